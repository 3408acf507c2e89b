//! `zlc sandbox send`, `react`, `edit` and `delete`: posting to a running sandbox as one of its people,
//! through the same REST API a Zulip client uses, so that listeners answer as they
//! would answer anyone.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use zlc_runtime::client::{Client, Destination, Member};
use zlc_runtime::config::ConfigOverrides;

use crate::demo::{PEOPLE, zuliprc_of};
use crate::opt::{
    SandboxCmd, SandboxDeleteArgs, SandboxEditArgs, SandboxReactArgs, SandboxSendArgs,
};

/// Runs `send`, `react`, `edit` or `delete`.
pub async fn run(cmd: SandboxCmd) -> Result<()> {
    match cmd {
        SandboxCmd::Send(a) => send(a).await,
        SandboxCmd::React(a) => react(a).await,
        SandboxCmd::Edit(a) => edit(a).await,
        SandboxCmd::Delete(a) => delete(a).await,
    }
}

async fn send(a: SandboxSendArgs) -> Result<()> {
    // What and where first: a mistake there is said before anything is read.
    let (place, text) = match (&a.dm, a.words.as_slice()) {
        (Some(_), [text]) => (None, text),
        (Some(_), _) => bail!("with --dm, give the text alone: `zlc sandbox send --dm NAME TEXT`"),
        (None, [place, text]) => (Some(channel_place(place)?), text),
        (None, _) => bail!(
            "say where and what: `zlc sandbox send \"#channel > topic\" TEXT` (or `--dm NAME TEXT`)"
        ),
    };
    let (client, me) = person(&a.people, &a.who)?;
    let dest = match (place, &a.dm) {
        (Some(dest), _) => dest,
        (None, to) => {
            let members = client.members().await.context(UNREACHABLE)?;
            let to = to.as_deref().unwrap_or("bot");
            Destination::Direct {
                user_ids: vec![find(&members, to)?.user_id],
            }
        }
    };
    let id = client
        .send_message(&dest, text)
        .await
        .context(UNREACHABLE)?;
    println!("message {id} sent by {me} to {dest}");
    Ok(())
}

async fn react(a: SandboxReactArgs) -> Result<()> {
    let (client, me) = person(&a.people, &a.who)?;
    let emoji = a.emoji.trim_matches(':');
    client
        .add_reaction(a.message_id, emoji)
        .await
        .context(UNREACHABLE)?;
    println!("{me} reacted :{emoji}: to message {}", a.message_id);
    Ok(())
}

async fn edit(a: SandboxEditArgs) -> Result<()> {
    let (client, me) = person(&a.people, &a.who)?;
    client
        .edit_message(a.message_id, &a.text)
        .await
        .with_context(|| {
            format!(
                "{me} editing message {} (is `zlc sandbox` running, and is it {me}'s?)",
                a.message_id
            )
        })?;
    println!("{me} edited message {}", a.message_id);
    Ok(())
}

async fn delete(a: SandboxDeleteArgs) -> Result<()> {
    let (client, me) = person(&a.people, &a.who)?;
    let deleted = client.delete_message(a.message_id).await.with_context(|| {
        format!(
            "{me} deleting message {} (is `zlc sandbox` running, and is it {me}'s?)",
            a.message_id
        )
    })?;
    if !deleted {
        bail!("there is no message {} to delete", a.message_id);
    }
    println!("{me} deleted message {}", a.message_id);
    Ok(())
}

const UNREACHABLE: &str = "posting to the sandbox (is `zlc sandbox` running?)";

/// A client for person `who` of the sandbox whose people's zuliprc files are in `dir`,
/// and their name.
fn person(dir: &Path, who: &str) -> Result<(Client, String)> {
    let who = who.trim().to_lowercase();
    let names: Vec<&str> = PEOPLE.iter().map(|p| p.0).collect();
    let Some((name, _, full_name)) = PEOPLE.iter().find(|p| p.0 == who) else {
        bail!(
            "the sandbox has no person `{who}`: --as takes {}",
            names.join(", ")
        );
    };
    let rc = zuliprc_of(dir, name);
    if !rc.exists() {
        bail!(
            "there is no {} (`zlc sandbox` writes it when it starts; is it running in this folder, or with --people elsewhere?)",
            rc.display()
        );
    }
    let config = ConfigOverrides {
        config_file: Some(rc),
        ..Default::default()
    }
    .resolve()?;
    Ok((Client::new(&config)?, (*full_name).to_owned()))
}

/// `"#channel > topic"` as a destination.
fn channel_place(place: &str) -> Result<Destination> {
    let shape = || {
        format!(
            "{place:?} is not a place: write it \"#channel > topic\" (e.g. \"#general > greetings\")"
        )
    };
    let rest = place
        .trim()
        .strip_prefix('#')
        .ok_or_else(|| anyhow::anyhow!(shape()))?;
    let (channel, topic) = rest
        .split_once('>')
        .ok_or_else(|| anyhow::anyhow!(shape()))?;
    let (channel, topic) = (channel.trim(), topic.trim());
    if channel.is_empty() || topic.is_empty() {
        bail!(shape());
    }
    Ok(Destination::Channel {
        channel: channel.to_owned(),
        topic: topic.to_owned(),
    })
}

/// The member called `name`: by full name, by email, or by the part of the email before
/// the `@`, without case; `bot` is the sandbox's bot.
fn find<'m>(members: &'m [Member], name: &str) -> Result<&'m Member> {
    let name = name.trim().to_lowercase();
    let found = members.iter().find(|m| {
        let local = m.email.split('@').next().unwrap_or("").to_lowercase();
        m.full_name.to_lowercase() == name
            || m.email.to_lowercase() == name
            || local == name
            || (name == "bot" && m.is_bot)
    });
    found.ok_or_else(|| {
        let known: Vec<&str> = members.iter().map(|m| m.full_name.as_str()).collect();
        anyhow::anyhow!(
            "nobody called `{name}` in the sandbox (there are: {})",
            known.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_written_as_in_zulip() {
        assert_eq!(
            channel_place(" #general >  greetings ").unwrap(),
            Destination::Channel {
                channel: "general".into(),
                topic: "greetings".into()
            }
        );
        for bad in ["general > x", "#general", "#general >", "# > x"] {
            let e = channel_place(bad).unwrap_err().to_string();
            assert!(e.contains("#channel > topic"), "{bad}: {e}");
        }
    }

    #[test]
    fn members_are_found_by_name_email_or_bot() {
        let m = |id, email: &str, name: &str, bot| Member {
            user_id: id,
            email: email.into(),
            full_name: name.into(),
            is_bot: bot,
            ..Member::default()
        };
        let members = [
            m(1, "listener-bot@zulip.example.com", "Listener Bot", true),
            m(2, "iago@zulip.example.com", "Iago", false),
        ];
        assert_eq!(find(&members, "bot").unwrap().user_id, 1);
        assert_eq!(find(&members, "Listener Bot").unwrap().user_id, 1);
        assert_eq!(find(&members, "IAGO").unwrap().user_id, 2);
        assert_eq!(find(&members, "iago@zulip.example.com").unwrap().user_id, 2);
        let e = find(&members, "cassio").unwrap_err().to_string();
        assert!(e.contains("Listener Bot, Iago"), "{e}");
    }
}
