//! `/role NAME`: a role from the config (`[roles.NAME]`) changes the system prompt, the
//! preference and, if it names one, pins the model; `/role` lists them, `/role off` goes
//! back. Must not import `core::Session`, `provider` or `ledger`.

use super::app::{App, Command, Mode};
use crate::core::Op;

impl App {
    /// The system prompt now: the session's, the role's part, the edit format if asked.
    pub(super) fn system_prompt(&self, edits: bool) -> String {
        let mut s = self.base_system.clone();
        if let Some(extra) = self
            .role
            .as_ref()
            .and_then(|r| self.roles.get(r))
            .and_then(|r| r.system_prompt.as_deref())
        {
            s.push_str("\n\n");
            s.push_str(extra.trim());
        }
        if edits {
            s.push_str(crate::edits::EDIT_FORMAT);
        }
        s
    }

    pub(super) fn role_command(&mut self, arg: &str) -> Vec<Command> {
        if arg.is_empty() {
            let names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            let text = match (names.is_empty(), &self.role) {
                (true, _) => "no roles yet: define one under [roles.NAME] in the config (system_prompt, preference, model)".to_string(),
                (false, Some(r)) => format!("role {r} in use; roles: {} · /role off", names.join(", ")),
                (false, None) => format!("roles: {} · /role NAME", names.join(", ")),
            };
            self.notice(&text, false);
            return Vec::new();
        }
        if arg == "off" || arg == "none" {
            let pinned_by_role = self
                .role
                .take()
                .and_then(|r| self.roles.get(&r))
                .and_then(|r| r.model.clone());
            if pinned_by_role.is_some_and(|m| self.mode == Mode::Pinned(m)) {
                self.mode = Mode::Auto;
            }
            self.system_edits = false;
            self.notice("no role: the default system prompt", false);
            return vec![Command::Core(Op::SetSystem(self.system_prompt(false)))];
        }
        let Some(role) = self.roles.get(arg).cloned() else {
            let names: Vec<&str> = self.roles.keys().map(String::as_str).collect();
            self.notice(
                &format!("no role `{arg}`; roles: {}", names.join(", ")),
                true,
            );
            return Vec::new();
        };
        if let Some(m) = &role.model
            && !self.models.iter().any(|(id, _)| id == m)
        {
            self.notice(
                &format!("role {arg} names model `{m}`, which is not in the catalog"),
                true,
            );
            return Vec::new();
        }
        self.role = Some(arg.to_string());
        self.system_edits = false;
        let mut cmds = vec![Command::Core(Op::SetSystem(self.system_prompt(false)))];
        if let Some(p) = role.preference {
            self.preference = p;
            cmds.push(Command::Core(Op::SetPreference(p)));
        }
        if let Some(m) = role.model {
            self.mode = Mode::Pinned(m);
        }
        self.notice(&format!("role {arg}"), false);
        cmds
    }
}
