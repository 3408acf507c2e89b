//! Commands end to end: `ops_bot.toml` built and run as a process against the fake
//! server, addressed the ways people do (a mention, a direct message, the prefix), with
//! the help, the usage line and a suggestion answered in the conversation, and a
//! command for admins refused to a member (roles followed through `realm_user`).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_bot_answers_commands_help_and_mistakes_in_the_conversation() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("ops_bot"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    s.zulip.add_channel("ops");
    let iago = s.zulip.add_user("iago@zulip.example.com", "Iago");
    let othello = s.zulip.add_user("othello@zulip.example.com", "Othello");
    // `deploy` is for admins: the binary follows roles through `realm_user` events.
    s.zulip.set_role(&iago, 200);
    let bot_id = s.zulip.bot().id;
    let say = |topic: &str, content: &str| {
        s.zulip
            .message()
            .channel("ops")
            .topic(topic)
            .sender(&iago)
            .content(content)
            .send();
    };
    let answers = |topic: &str| -> Vec<String> {
        s.zulip
            .messages()
            .into_iter()
            .filter(|m| m.sender_id == bot_id && m.topic == topic)
            .map(|m| m.content)
            .collect()
    };

    say("help", "@**Listener Bot** help");
    wait_until(20, "the list of commands", || !answers("help").is_empty()).await;
    let list = &answers("help")[0];
    assert!(list.starts_with("Commands:\n"), "{list}");
    assert!(
        list.contains("* `deploy <environment: staging|production> [--force]`: Deploy the service"),
        "{list}"
    );
    assert!(list.contains("* `help [command]`"), "{list}");

    say("usage", "@**Listener Bot** deploy");
    say("usage", "@**Listener Bot** dpeloy staging");
    wait_until(20, "two answers to mistakes", || {
        answers("usage").len() == 2
    })
    .await;
    assert_eq!(
        answers("usage"),
        [
            "`deploy` needs <environment>\nusage: `deploy <environment: staging|production> [--force]`",
            "unknown command `dpeloy`; did you mean `deploy`?",
        ]
    );

    say("run", "@**Listener Bot** deploy Production --force");
    say("run", "!status");
    say("run", "> @**Listener Bot** deploy staging");
    wait_until(20, "two commands run", || answers("run").len() == 2).await;
    // Two listeners answer side by side: only each one's own answers keep their order.
    let mut run = answers("run");
    run.sort();
    assert_eq!(
        run,
        [
            "All green.",
            "Deploying to production (forced: true), as Iago asked",
        ]
    );

    // Othello is a member: told who may deploy, and nothing runs.
    s.zulip
        .message()
        .channel("ops")
        .topic("refused")
        .sender(&othello)
        .content("!deploy staging")
        .send();
    wait_until(20, "the refusal", || !answers("refused").is_empty()).await;
    assert_eq!(
        answers("refused"),
        ["you may not run `deploy`: it is for admins and above only"]
    );

    // A direct message is a command without a mention; the answer stays private.
    s.zulip
        .message()
        .direct_to(&[s.zulip.bot()])
        .sender(&iago)
        .content("deploy staging")
        .send();
    wait_until(20, "the answer to a direct message", || {
        s.zulip
            .messages()
            .iter()
            .any(|m| m.sender_id == bot_id && m.content.starts_with("Deploying to staging"))
    })
    .await;
    let dm = s
        .zulip
        .messages()
        .into_iter()
        .find(|m| m.sender_id == bot_id && m.content.starts_with("Deploying to staging"))
        .unwrap();
    assert!(
        dm.channel_id.is_none() && dm.dm_user_ids.contains(&iago.id),
        "{dm:?}"
    );

    // Nothing more: the quoted command ran nothing, and no answer answered itself.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from_bot = s
        .zulip
        .messages()
        .iter()
        .filter(|m| m.sender_id == bot_id)
        .count();
    assert_eq!(from_bot, 7, "{:#?}", s.zulip.messages());
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}

/// The answer follows the command: an edit runs it again and updates the answer in
/// place (Zulip's `PATCH /messages/{id}`, no second message), an edit that makes it
/// another command takes zlc's "unknown command" back, and a deleted command takes its
/// answer with it. The store remembers which answer belongs to which message, so this
/// holds across a restart too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_command_updates_its_answer_and_a_deleted_one_takes_it_away() {
    let s = setup().await;
    let bin = build_pipeline(&pipeline("ops_bot"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    s.zulip.add_channel("ops");
    let iago = s.zulip.add_user("iago@zulip.example.com", "Iago");
    s.zulip.set_role(&iago, 200);
    let bot_id = s.zulip.bot().id;
    let answers = || -> Vec<(i64, String)> {
        s.zulip
            .messages()
            .into_iter()
            .filter(|m| m.sender_id == bot_id)
            .map(|m| (m.id, m.content))
            .collect()
    };
    let say = |content: &str| {
        s.zulip
            .message()
            .channel("ops")
            .topic("edits")
            .sender(&iago)
            .content(content)
            .send()
    };

    let deploy = say("!deploy staging");
    wait_until(20, "the answer", || answers().len() == 1).await;
    let (answer_id, first) = answers()[0].clone();
    assert_eq!(first, "Deploying to staging (forced: false), as Iago asked");

    assert!(
        s.zulip
            .edit_message(&iago, deploy, "!deploy production --force")
    );
    wait_until(20, "the answer updated", || {
        answers()[0].1 == "Deploying to production (forced: true), as Iago asked"
    })
    .await;
    assert_eq!(answers().len(), 1, "updated in place: {:?}", answers());
    assert_eq!(answers()[0].0, answer_id);
    let patched = s.zulip.requests_to(&format!("messages/{answer_id}"));
    assert!(
        patched
            .iter()
            .any(|r| r.method == "PATCH" && r.status == 200),
        "{patched:?}"
    );

    // A typo answered by zlc, then corrected: the correction's answer replaces it.
    let typo = say("!dpeloy staging");
    wait_until(20, "the suggestion", || answers().len() == 2).await;
    assert_eq!(
        answers()[1].1,
        "unknown command `dpeloy`; did you mean `deploy`?"
    );
    assert!(s.zulip.edit_message(&iago, typo, "!deploy staging"));
    wait_until(20, "the suggestion taken back and the command run", || {
        let a = answers();
        a.len() == 2 && a[1].1.starts_with("Deploying to staging")
    })
    .await;

    // Deleting the first command deletes its answer.
    assert!(s.zulip.delete_message(&iago, deploy));
    wait_until(20, "the answer deleted", || {
        answers().iter().all(|(id, _)| *id != answer_id)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left: Vec<String> = answers().into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        left,
        ["Deploying to staging (forced: false), as Iago asked"]
    );
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}

/// A command for a user group: the binary reads the groups when it connects
/// (`GET /user_groups`) and follows `user_group` events, so a person added to the
/// group while it runs may run the command from the next message on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_for_a_group_follows_the_group() {
    let s = setup().await;
    s.zulip.add_channel("ops");
    let iago = s.zulip.add_user("iago@zulip.example.com", "Iago");
    let othello = s.zulip.add_user("othello@zulip.example.com", "Othello");
    let oncall = s.zulip.add_user_group("oncall", &[&iago]);
    let bin = build_pipeline(&pipeline("ops_bot"));
    let p = s.run(&bin, &[], &[]);
    s.connected(&p).await;
    let bot_id = s.zulip.bot().id;
    let answers = || -> Vec<String> {
        s.zulip
            .messages()
            .into_iter()
            .filter(|m| m.sender_id == bot_id)
            .map(|m| m.content)
            .collect()
    };
    let say = |who: &zlc_runtime::testkit::FakeUser, text: &str| {
        s.zulip
            .message()
            .channel("ops")
            .topic("groups")
            .sender(who)
            .content(text)
            .send();
    };
    say(&iago, "!rollback 41");
    wait_until(20, "iago's rollback", || answers().len() == 1).await;
    say(&othello, "!rollback 40");
    wait_until(20, "othello refused", || answers().len() == 2).await;
    s.zulip.add_to_user_group(oncall, &othello);
    tokio::time::sleep(Duration::from_millis(300)).await;
    say(&othello, "!rollback 40");
    wait_until(20, "othello's rollback", || answers().len() == 3).await;
    assert_eq!(
        answers(),
        [
            "Rolling back to release 41.",
            "you may not run `rollback`: it is for members of oncall only",
            "Rolling back to release 40.",
        ]
    );
    let (status, log) = p.stop();
    assert!(status.success(), "{log}");
}
