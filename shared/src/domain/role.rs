use crate::error::{Error, Result};

/// A role a member holds in an organization. A membership holds one or more.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Exactly one per organization; implies admin.
    Owner,
    /// Account admin: settings, members, sub-accounts.
    Admin,
    /// Messaging agent: reads and replies to messages.
    Agent,
    /// View-only, excluding messages.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Agent, Role::Viewer];

    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| Error::validation("invalid_role", field, "must be one of owner, admin, agent, viewer"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
        }
    }
}

/// A non-empty, sorted, duplicate-free set of roles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Roles(Vec<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Result<Self> {
        let mut v: Vec<Role> = roles.into_iter().collect();
        v.sort();
        v.dedup();
        if v.is_empty() {
            return Err(Error::validation("invalid_role", "roles", "at least one role is required"));
        }
        Ok(Roles(v))
    }

    pub fn parse(raw: &[String], field: &str) -> Result<Self> {
        let parsed = raw
            .iter()
            .enumerate()
            .map(|(i, r)| Role::parse(r, &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        Self::new(parsed)
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|r| r.as_str().to_owned()).collect()
    }
}

/// Whether these roles make an owner or admin.
pub(crate) fn is_admin(roles: &[Role]) -> bool {
    roles.iter().any(|r| matches!(r, Role::Owner | Role::Admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_deduplicated() {
        let r = Roles::parse(&["agent".into(), "owner".into(), "agent".into()], "roles").unwrap();
        assert_eq!(r.as_slice(), &[Role::Owner, Role::Agent]);
        assert!(Roles::parse(&[], "roles").is_err());
        let err = Roles::parse(&["root".into()], "roles").unwrap_err();
        assert!(matches!(err, Error::Validation { ref field, .. } if field == "roles[0]"));
    }
}
