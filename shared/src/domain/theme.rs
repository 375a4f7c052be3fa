//! The messaging clients' colors: per component a background, hover and select color (and
//! optionally the text color drawn on them), validated `#RRGGBB`, with the WCAG 2.2 contrast
//! of the text on every background.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// WCAG 2.2 success criterion 1.4.3 (AA) for normal text.
pub const MIN_CONTRAST: f64 = 4.5;
/// Links are drawn on the page, whose background is white.
const PAGE: Color = Color(0xFFFFFF);
const BLACK: Color = Color(0x000000);
const WHITE: Color = Color(0xFFFFFF);

/// A `#RRGGBB` color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String, pattern = "^#[0-9A-Fa-f]{6}$", example = "#1F6FEB")]
pub struct Color(u32);

impl Color {
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let hex = raw.trim().strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        hex.and_then(|h| u32::from_str_radix(h, 16).ok())
            .map(Color)
            .ok_or_else(|| Error::validation("invalid_color", field, "must be a color as #RRGGBB"))
    }

    /// WCAG 2.2 relative luminance.
    fn luminance(self) -> f64 {
        let channel = |shift: u32| {
            let c = f64::from((self.0 >> shift) & 0xFF) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0)
    }

    /// The WCAG contrast ratio of two colors, 1 to 21.
    pub fn contrast(self, other: Color) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Black or white, whichever reads better on this color.
    fn readable_text(self) -> Color {
        if self.contrast(BLACK) >= self.contrast(WHITE) { BLACK } else { WHITE }
    }
}

impl std::fmt::Display for Color {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{:06X}", self.0)
    }
}

impl From<Color> for String {
    fn from(c: Color) -> String {
        c.to_string()
    }
}

impl TryFrom<String> for Color {
    type Error = Error;
    fn try_from(s: String) -> Result<Color> {
        Color::parse(&s, "color")
    }
}

/// A component's colors; `text` unset means black or white, whichever reads better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComponentColors {
    pub background: Color,
    pub hover: Color,
    pub select: Color,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<Color>,
}

macro_rules! components {
    ($($field:ident => $variant:ident, $css:literal);* $(;)?) => {
        /// A part of the client that takes colors.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum Component { $($variant),* }

        impl Component {
            pub const ALL: &'static [Component] = &[$(Component::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $(Component::$variant => stringify!($field)),* }
            }
            fn css(self) -> &'static str {
                match self { $(Component::$variant => $css),* }
            }
        }

        /// The colors of every component.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        pub struct Theme { $(pub $field: ComponentColors),* }

        impl Theme {
            pub fn colors(&self, c: Component) -> ComponentColors {
                match c { $(Component::$variant => self.$field),* }
            }
        }
    };
}

components! {
    header => Header, "header";
    sidebar => Sidebar, "sidebar";
    menu_item => MenuItem, "menu-item";
    button => Button, "button";
    link => Link, "link";
}

/// The three states a component's background has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContrastState {
    Background,
    Hover,
    Select,
}

/// The contrast of one text color on one background.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContrastCheck {
    pub component: Component,
    pub state: ContrastState,
    pub text: Color,
    pub background: Color,
    /// Cut (not rounded) to two decimals, so a ratio shown as 4.50 is readable: 4.496 shows
    /// as 4.49.
    pub ratio: f64,
    /// At least 4.5:1 (WCAG 2.2 AA for normal text).
    pub readable: bool,
}

const fn c(v: u32) -> Color {
    Color(v)
}

const fn colors(background: u32, hover: u32, select: u32) -> ComponentColors {
    ComponentColors { background: c(background), hover: c(hover), select: c(select), text: None }
}

/// A theme to start from.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Preset {
    pub id: &'static str,
    pub name: &'static str,
    pub theme: Theme,
}

/// The messenger's own colors, used where no organization sets a theme.
pub const DEFAULT_THEME: Theme = Theme {
    header: colors(0x2B2F36, 0x3A3F47, 0x1F2228),
    sidebar: colors(0xF4F5F7, 0xE6E8EB, 0xD8DCE1),
    menu_item: colors(0xFFFFFF, 0xEEF1F4, 0xDCE6F2),
    button: colors(0x1F5FBF, 0x1A4FA0, 0x143F80),
    link: colors(0x1F5FBF, 0x143F80, 0x5A2F9E),
};

pub const PRESETS: [Preset; 3] = [
    Preset { id: "harbour", name: "Harbour", theme: DEFAULT_THEME },
    Preset {
        id: "evergreen",
        name: "Evergreen",
        theme: Theme {
            header: colors(0x1E4D3A, 0x276149, 0x163A2C),
            sidebar: colors(0xF1F6F3, 0xE1ECE5, 0xCFE1D6),
            menu_item: colors(0xFFFFFF, 0xEAF3EE, 0xD5E8DC),
            button: colors(0x1E6B47, 0x18573A, 0x12432D),
            link: colors(0x1E6B47, 0x12432D, 0x4A3A8C),
        },
    },
    Preset {
        id: "ember",
        name: "Ember",
        theme: Theme {
            header: colors(0x5A1F1A, 0x6E2A23, 0x431612),
            sidebar: colors(0xFBF3EF, 0xF5E4DC, 0xEDD2C6),
            menu_item: colors(0xFFFFFF, 0xFBEDE6, 0xF5D9CC),
            button: colors(0xB23A1E, 0x952F18, 0x782512),
            link: colors(0xA3361C, 0x782512, 0x6B2F8A),
        },
    },
];

impl Theme {
    /// The text color on `component`'s backgrounds (links: the link colors themselves).
    fn text_on(&self, component: Component, state: ContrastState) -> (Color, Color) {
        let cc = self.colors(component);
        let bg = match state {
            ContrastState::Background => cc.background,
            ContrastState::Hover => cc.hover,
            ContrastState::Select => cc.select,
        };
        if component == Component::Link {
            return (bg, PAGE);
        }
        (cc.text.unwrap_or_else(|| cc.background.readable_text()), bg)
    }

    /// Every text-on-background pair the clients draw, with its contrast.
    pub fn contrast(&self) -> Vec<ContrastCheck> {
        let mut out = Vec::new();
        for &component in Component::ALL {
            for state in [ContrastState::Background, ContrastState::Hover, ContrastState::Select] {
                let (text, background) = self.text_on(component, state);
                let ratio = text.contrast(background);
                out.push(ContrastCheck {
                    component,
                    state,
                    text,
                    background,
                    ratio: (ratio * 100.0).floor() / 100.0,
                    readable: ratio >= MIN_CONTRAST,
                });
            }
        }
        out
    }

    /// The CSS custom properties a client applies, e.g. `--sb-header-bg`.
    pub fn css_variables(&self) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for &component in Component::ALL {
            let cc = self.colors(component);
            let name = component.css();
            vars.insert(format!("--sb-{name}-bg"), cc.background.to_string());
            vars.insert(format!("--sb-{name}-hover"), cc.hover.to_string());
            vars.insert(format!("--sb-{name}-select"), cc.select.to_string());
            let (text, _) = self.text_on(component, ContrastState::Background);
            vars.insert(format!("--sb-{name}-text"), text.to_string());
        }
        vars
    }

    /// The button's background and text, for the call to action in emails.
    pub fn button(&self) -> (Color, Color) {
        let (text, bg) = self.text_on(Component::Button, ContrastState::Background);
        (bg, text)
    }

    pub fn header(&self) -> (Color, Color) {
        let (text, bg) = self.text_on(Component::Header, ContrastState::Background);
        (bg, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_parse_strictly() {
        assert_eq!(Color::parse("#1f6feb", "c").unwrap().to_string(), "#1F6FEB");
        for bad in ["1F6FEB", "#1F6FE", "#1F6FEBA", "#GGGGGG", "red", "#12 456"] {
            assert!(Color::parse(bad, "c").is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((BLACK.contrast(WHITE) - 21.0).abs() < 1e-9);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 1e-9);
        // #777777 on white is the classic just-failing grey (4.48:1).
        let grey = Color::parse("#777777", "c").unwrap().contrast(WHITE);
        assert!((grey - 4.48).abs() < 0.01, "{grey}");
    }

    #[test]
    fn every_preset_is_readable_throughout() {
        for p in PRESETS {
            let bad: Vec<_> = p.theme.contrast().into_iter().filter(|c| !c.readable).collect();
            assert!(bad.is_empty(), "{}: {bad:?}", p.id);
        }
    }

    #[test]
    fn a_pale_text_color_is_flagged() {
        let mut t = DEFAULT_THEME;
        t.button.text = Some(Color::parse("#8FA8D8", "c").unwrap());
        let bad: Vec<_> = t.contrast().into_iter().filter(|c| !c.readable).collect();
        assert!(bad.iter().all(|c| c.component == Component::Button) && bad.len() == 3, "{bad:?}");
    }
}
