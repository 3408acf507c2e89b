//! Checks of `[[schedule]]`s against the rest of the pipeline: the listener whose
//! counts a digest reads, and the `digest.*` fields that need one.

use crate::diag::Diagnostics;
use crate::model::*;

/// Schedule `l` (a listener with a schedule) in pipeline `p`.
pub(super) fn check_schedule(p: &Pipeline, l: &Listener, d: &mut Diagnostics) {
    let Some(s) = &l.schedule else { return };
    if l.actions.is_empty() {
        d.error(l.span.clone(), "[[schedule]] has no `[[schedule.action]]`")
            .help = Some(
            "e.g. `type = \"reply\"`, `to = \"channel\"`, `channel`, `topic`, `template`".into(),
        );
    }
    let digest_field = l
        .actions
        .iter()
        .flat_map(|a| super::templates(&a.value))
        .flat_map(|t| &t.segments)
        .find_map(|seg| match seg {
            Segment::Field(f) if f.value.starts_with("digest.") => Some(f),
            _ => None,
        });
    let Some(of) = &s.digest_of else {
        if let Some(f) = digest_field {
            d.error(
                f.span.clone(),
                format!("`{}` reads the counts of a listener: name it in `digest_of`", f.value),
            )
            .help = Some("e.g. `digest_of = \"count_messages\"`, a listener with `type = \"count\"`, `by = \"channel\"`".into());
        }
        return;
    };
    let Some(counted) = p.listeners.iter().find(|c| c.name.value == of.value) else {
        let names = p.listeners.iter().map(|c| c.name.value.as_str());
        let mut msg = format!(
            "`digest_of` names `{}`, which the pipeline does not have",
            of.value
        );
        if let Some(close) = crate::diag::suggest(&of.value, names) {
            msg.push_str(&format!("; did you mean `{close}`?"));
        }
        d.error(of.span.clone(), msg);
        return;
    };
    let by_channel = counted
        .actions
        .iter()
        .any(|a| matches!(&a.value, Action::Count { by } if by.contains(&CountKey::Channel)));
    if !by_channel {
        d.error(
            of.span.clone(),
            format!(
                "`{}` counts nothing by channel: a digest reads a `count` action with `by = \"channel\"`",
                of.value
            ),
        );
    }
}
