//! Organizations: the tree, lifecycle, exports, company settings, domains, directory, theme, alarm service.

pub mod alarm;
pub mod directory;
pub mod domains;
pub mod exports;
pub mod lifecycle;
pub(in crate::service) mod my_orgs;
pub mod organizations;
pub mod settings;
pub mod theme;
