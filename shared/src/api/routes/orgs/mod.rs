//! Organizations: the tree, lifecycle, exports, company settings, domains, directory, theme, alarm service.

pub mod alarm;
pub mod directory;
pub mod domains;
pub mod lifecycle;
pub mod organizations;
pub mod settings;
pub mod theme;
