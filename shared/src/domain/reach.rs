//! How far a membership reaches down the organization tree, and what an admin may change
//! there. The rules that read them are in `access`; the store keeps them on memberships and
//! invitations.

use serde::{Deserialize, Serialize};

use super::OrgId;

/// How far down the tree a membership reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The organization and every descendant.
    #[default]
    Subtree,
    /// The organization alone.
    OrgOnly,
}

/// For admins: which descendants they may change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "org_ids")]
pub enum Manage {
    #[default]
    All,
    None,
    /// These sub-accounts and what lies beneath them.
    Only(Vec<OrgId>),
}
