//! The catalog of Zulip event types: one list, read by the runtime (its `Event` enum,
//! one variant per (`type`, `op`)) and by the compiler (the names a pipeline may use,
//! the ops, and the payload type a Rust handler of each takes). Neither keeps a copy.
//!
//! [`zulip_events!`] hands the list to a macro of the caller's; [`VARIANTS`] is the
//! same list as data. [`suggest`] ("did you mean") and Zulip's [`ROLES`] are shared the
//! same way.

mod roles;
pub mod schedule;
mod suggest;
pub use roles::{ROLES, role_name, role_names, role_number};
pub use suggest::suggest;

/// Calls `$callback! { ... }` with every event of the Zulip spec, one entry each:
/// `/// doc` `Variant(PayloadType) = "type" / "op";` (no `/ "op"` for types without
/// one), in the spec's order. The payload types are the runtime's (`zlc_runtime::event`).
#[macro_export]
macro_rules! zulip_events {
    ($callback:ident) => {
        $callback! {
                /// `message`: a new message (the hot path).
                Message(MessageEvent<'a>) = "message";
                /// `heartbeat`: long-poll keep-alive.
                Heartbeat(Heartbeat) = "heartbeat";
                /// `alert_words`.
                AlertWords(AlertWords) = "alert_words";
                /// `update_display_settings` (deprecated).
                UpdateDisplaySettings(UpdateDisplaySettings) = "update_display_settings";
                /// `update_global_notifications` (deprecated).
                UpdateGlobalNotifications(UpdateGlobalNotifications) = "update_global_notifications";
                /// `user_settings` / `update`.
                UserSettingsUpdate(UserSettingsUpdate) = "user_settings" / "update";
                /// `realm_user` / `update`.
                RealmUserUpdate(RealmUserUpdate) = "realm_user" / "update";
                /// `realm_user` / `add`.
                RealmUserAdd(RealmUserAdd) = "realm_user" / "add";
                /// `realm_user` / `remove`.
                RealmUserRemove(RealmUserRemove) = "realm_user" / "remove";
                /// `subscription` / `add`.
                SubscriptionAdd(SubscriptionAdd) = "subscription" / "add";
                /// `subscription` / `remove`.
                SubscriptionRemove(SubscriptionRemove) = "subscription" / "remove";
                /// `subscription` / `update`.
                SubscriptionUpdate(SubscriptionUpdate) = "subscription" / "update";
                /// `subscription` / `peer_add`.
                SubscriptionPeerAdd(SubscriptionPeerAdd) = "subscription" / "peer_add";
                /// `subscription` / `peer_remove`.
                SubscriptionPeerRemove(SubscriptionPeerRemove) = "subscription" / "peer_remove";
                /// `has_zoom_token`.
                HasZoomToken(HasZoomToken) = "has_zoom_token";
                /// `invites_changed`.
                InvitesChanged(InvitesChanged) = "invites_changed";
                /// `presence`.
                Presence(Presence) = "presence";
                /// `stream` / `create`.
                StreamCreate(StreamCreate) = "stream" / "create";
                /// `stream` / `delete`.
                StreamDelete(StreamDelete) = "stream" / "delete";
                /// `stream` / `update`.
                StreamUpdate(StreamUpdate) = "stream" / "update";
                /// `reaction` / `add`.
                ReactionAdd(Reaction) = "reaction" / "add";
                /// `reaction` / `remove`.
                ReactionRemove(Reaction) = "reaction" / "remove";
                /// `attachment` / `add`.
                AttachmentAdd(AttachmentChange) = "attachment" / "add";
                /// `attachment` / `update`.
                AttachmentUpdate(AttachmentChange) = "attachment" / "update";
                /// `attachment` / `remove`.
                AttachmentRemove(AttachmentChange) = "attachment" / "remove";
                /// `submessage`.
                Submessage(Submessage) = "submessage";
                /// `user_status`.
                UserStatus(UserStatus) = "user_status";
                /// `custom_profile_fields`.
                CustomProfileFields(CustomProfileFields) = "custom_profile_fields";
                /// `default_stream_groups`.
                DefaultStreamGroups(DefaultStreamGroups) = "default_stream_groups";
                /// `default_streams`.
                DefaultStreams(DefaultStreams) = "default_streams";
                /// `delete_message`.
                DeleteMessage(DeleteMessage) = "delete_message";
                /// `muted_topics` (deprecated).
                MutedTopics(MutedTopics) = "muted_topics";
                /// `user_topic`.
                UserTopic(UserTopic) = "user_topic";
                /// `muted_users`.
                MutedUsers(MutedUsers) = "muted_users";
                /// `onboarding_steps`.
                OnboardingSteps(OnboardingSteps) = "onboarding_steps";
                /// `update_message`.
                UpdateMessage(UpdateMessage) = "update_message";
                /// `typing` / `start`.
                TypingStart(Typing) = "typing" / "start";
                /// `typing` / `stop`.
                TypingStop(Typing) = "typing" / "stop";
                /// `typing_edit_message` / `start`.
                TypingEditMessageStart(TypingEditMessage) = "typing_edit_message" / "start";
                /// `typing_edit_message` / `stop`.
                TypingEditMessageStop(TypingEditMessage) = "typing_edit_message" / "stop";
                /// `update_message_flags` / `add`.
                UpdateMessageFlagsAdd(UpdateMessageFlags) = "update_message_flags" / "add";
                /// `update_message_flags` / `remove`.
                UpdateMessageFlagsRemove(UpdateMessageFlags) = "update_message_flags" / "remove";
                /// `user_group` / `add`.
                UserGroupAdd(UserGroupAdd) = "user_group" / "add";
                /// `user_group` / `update`.
                UserGroupUpdate(UserGroupUpdate) = "user_group" / "update";
                /// `user_group` / `add_members`.
                UserGroupAddMembers(UserGroupMembers) = "user_group" / "add_members";
                /// `user_group` / `remove_members`.
                UserGroupRemoveMembers(UserGroupMembers) = "user_group" / "remove_members";
                /// `user_group` / `add_subgroups`.
                UserGroupAddSubgroups(UserGroupSubgroups) = "user_group" / "add_subgroups";
                /// `user_group` / `remove_subgroups`.
                UserGroupRemoveSubgroups(UserGroupSubgroups) = "user_group" / "remove_subgroups";
                /// `user_group` / `remove`.
                UserGroupRemove(UserGroupRemove) = "user_group" / "remove";
                /// `realm_linkifiers`.
                RealmLinkifiers(RealmLinkifiers) = "realm_linkifiers";
                /// `realm_filters` (deprecated).
                RealmFilters(RealmFilters) = "realm_filters";
                /// `realm_playgrounds`.
                RealmPlaygrounds(RealmPlaygrounds) = "realm_playgrounds";
                /// `realm_emoji` / `update`.
                RealmEmojiUpdate(RealmEmojiUpdate) = "realm_emoji" / "update";
                /// `realm_domains` / `add`.
                RealmDomainsAdd(RealmDomainsChange) = "realm_domains" / "add";
                /// `realm_domains` / `change`.
                RealmDomainsChange(RealmDomainsChange) = "realm_domains" / "change";
                /// `realm_domains` / `remove`.
                RealmDomainsRemove(RealmDomainsRemove) = "realm_domains" / "remove";
                /// `realm_export`.
                RealmExport(RealmExport) = "realm_export";
                /// `realm_export_consent`.
                RealmExportConsent(RealmExportConsent) = "realm_export_consent";
                /// `realm_bot` / `add`.
                RealmBotAdd(RealmBot) = "realm_bot" / "add";
                /// `realm_bot` / `update`.
                RealmBotUpdate(RealmBot) = "realm_bot" / "update";
                /// `realm_bot` / `remove`.
                RealmBotRemove(RealmBot) = "realm_bot" / "remove";
                /// `realm_bot` / `delete`.
                RealmBotDelete(RealmBot) = "realm_bot" / "delete";
                /// `realm` / `update`.
                RealmUpdate(RealmUpdate) = "realm" / "update";
                /// `realm` / `deactivated`.
                RealmDeactivated(RealmDeactivated) = "realm" / "deactivated";
                /// `realm` / `update_dict`.
                RealmUpdateDict(RealmUpdateDict) = "realm" / "update_dict";
                /// `restart`.
                Restart(Restart) = "restart";
                /// `web_reload_client`.
                WebReloadClient(WebReloadClient) = "web_reload_client";
                /// `realm_user_settings_defaults` / `update`.
                RealmUserSettingsDefaultsUpdate(RealmUserSettingsDefaultsUpdate) = "realm_user_settings_defaults" / "update";
                /// `drafts` / `add`.
                DraftsAdd(DraftsAdd) = "drafts" / "add";
                /// `drafts` / `update`.
                DraftsUpdate(DraftsUpdate) = "drafts" / "update";
                /// `drafts` / `remove`.
                DraftsRemove(DraftsRemove) = "drafts" / "remove";
                /// `saved_snippets` / `add`.
                SavedSnippetsAdd(SavedSnippetsAdd) = "saved_snippets" / "add";
                /// `saved_snippets` / `update`.
                SavedSnippetsUpdate(SavedSnippetsUpdate) = "saved_snippets" / "update";
                /// `saved_snippets` / `remove`.
                SavedSnippetsRemove(SavedSnippetsRemove) = "saved_snippets" / "remove";
                /// `scheduled_messages` / `add`.
                ScheduledMessagesAdd(ScheduledMessagesAdd) = "scheduled_messages" / "add";
                /// `scheduled_messages` / `update`.
                ScheduledMessagesUpdate(ScheduledMessagesUpdate) = "scheduled_messages" / "update";
                /// `scheduled_messages` / `remove`.
                ScheduledMessagesRemove(ScheduledMessagesRemove) = "scheduled_messages" / "remove";
        }
    };
}

/// Makes [`VARIANTS`] from the list.
macro_rules! variants_table {
    ($( $(#[$m:meta])* $variant:ident($payload:ident $(<$lt:lifetime>)?) = $ty:literal $(/ $op:literal)? ; )*) => {
        /// Every (`type`, `op`) of the Zulip spec (`None` for types without an op), with
        /// the runtime's `Event` variant for it and the variant's payload type: what a
        /// Rust handler of those events takes as its argument.
        pub const VARIANTS: &[(&str, Option<&str>, &str, &str)] = &[
            $( ($ty, op!($($op)?), stringify!($variant), concat!(stringify!($payload) $(, "<", stringify!($lt), ">")?)), )*
        ];
    };
}

macro_rules! op {
    () => {
        None
    };
    ($op:literal) => {
        Some($op)
    };
}

zulip_events!(variants_table);

#[cfg(test)]
mod tests {
    use super::VARIANTS;

    #[test]
    fn every_type_and_op_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for (kind, op, variant, _) in VARIANTS {
            assert!(seen.insert((kind, op)), "{kind}/{op:?} twice");
            assert!(variant.chars().next().is_some_and(char::is_uppercase));
        }
        assert_eq!(VARIANTS.len(), 77);
        assert_eq!(
            VARIANTS[0],
            ("message", None, "Message", "MessageEvent<'a>")
        );
    }
}
