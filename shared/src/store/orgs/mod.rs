//! Organizations: the tree, lifecycle, exports, company settings, domains, directory, theme, alarm service.

pub(in crate::store) mod directory;
pub(in crate::store) mod domains;
pub(in crate::store) mod exported;
pub(in crate::store) mod exports;
pub(in crate::store) mod lifecycle;
pub(in crate::store) mod login_domains;
pub(in crate::store) mod organizations;
pub(in crate::store) mod settings;
pub(in crate::store) mod tree;
