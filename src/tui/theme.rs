//! Themes: semantic colour roles from `themes/*.toml` (shipped dark and light, plus user
//! themes in `<config dir>/themes/`), and the syntect theme for code. `NO_COLOR` turns
//! every colour off.

use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const DARK: &str = include_str!("../../themes/dark.toml");
const LIGHT: &str = include_str!("../../themes/light.toml");

#[derive(Debug, Clone, Deserialize)]
struct ThemeFile {
    name: String,
    syntax_theme: String,
    colors: Colors,
}

#[derive(Debug, Clone, Deserialize)]
struct Colors {
    text: String,
    muted: String,
    accent: String,
    user: String,
    assistant: String,
    reasoning: String,
    route_card: String,
    ok: String,
    warn: String,
    danger: String,
    code_bg: String,
    border: String,
}

/// Resolved styles by role.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub syntax_theme: String,
    pub no_color: bool,
    pub text: Style,
    pub muted: Style,
    pub accent: Style,
    pub user: Style,
    pub assistant: Style,
    pub reasoning: Style,
    pub route_card: Style,
    pub ok: Style,
    pub warn: Style,
    pub danger: Style,
    pub code_bg: Color,
    pub border: Style,
}

fn color(s: &str) -> Color {
    s.parse::<Color>().unwrap_or(Color::Reset)
}

impl Theme {
    fn from_file(f: ThemeFile, no_color: bool) -> Self {
        let st = |c: &str| {
            if no_color {
                Style::default()
            } else {
                Style::default().fg(color(c))
            }
        };
        Theme {
            name: f.name,
            syntax_theme: f.syntax_theme,
            no_color,
            text: st(&f.colors.text),
            muted: st(&f.colors.muted).add_modifier(if no_color {
                Modifier::DIM
            } else {
                Modifier::empty()
            }),
            accent: st(&f.colors.accent).add_modifier(Modifier::BOLD),
            user: st(&f.colors.user).add_modifier(Modifier::BOLD),
            assistant: st(&f.colors.assistant),
            reasoning: st(&f.colors.reasoning).add_modifier(Modifier::ITALIC),
            route_card: st(&f.colors.route_card),
            ok: st(&f.colors.ok),
            warn: st(&f.colors.warn),
            danger: st(&f.colors.danger).add_modifier(Modifier::BOLD),
            code_bg: if no_color {
                Color::Reset
            } else {
                color(&f.colors.code_bg)
            },
            border: st(&f.colors.border),
        }
    }

    /// The shipped dark theme.
    pub fn dark(no_color: bool) -> Self {
        Self::parse(DARK, no_color).unwrap_or_else(|_| Self::fallback(no_color))
    }

    fn fallback(no_color: bool) -> Self {
        Self::from_file(
            ThemeFile {
                name: "fallback".into(),
                syntax_theme: "base16-ocean.dark".into(),
                colors: Colors {
                    text: "reset".into(),
                    muted: "darkgray".into(),
                    accent: "cyan".into(),
                    user: "blue".into(),
                    assistant: "reset".into(),
                    reasoning: "darkgray".into(),
                    route_card: "magenta".into(),
                    ok: "green".into(),
                    warn: "yellow".into(),
                    danger: "red".into(),
                    code_bg: "reset".into(),
                    border: "gray".into(),
                },
            },
            no_color,
        )
    }

    pub fn parse(text: &str, no_color: bool) -> Result<Self, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Ok(Self::from_file(f, no_color))
    }

    /// A theme by name: a user file `<dir>/<name>.toml` first, then the shipped ones.
    pub fn load(name: &str, user_dir: &Path, no_color: bool) -> Result<Self, String> {
        let file = user_dir.join(format!("{name}.toml"));
        if file.exists() {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read theme {}: {e}", file.display()))?;
            return Self::parse(&text, no_color)
                .map_err(|e| format!("invalid theme {}: {e}", file.display()));
        }
        match name {
            "dark" => Self::parse(DARK, no_color),
            "light" => Self::parse(LIGHT, no_color),
            other => Err(format!("no theme named `{other}` (shipped: dark, light)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_themes_parse_and_no_color_strips_colours() {
        let d = Theme::load("dark", Path::new("/nonexistent"), false).unwrap();
        assert_eq!(d.accent.fg, Some(Color::Cyan));
        let l = Theme::load("light", Path::new("/nonexistent"), false).unwrap();
        assert_eq!(l.syntax_theme, "InspiredGitHub");
        // On a light background ANSI "gray" (7) is nearly white: muted text uses dark grey.
        assert_eq!(l.muted.fg, Some(Color::DarkGray));
        let n = Theme::dark(true);
        assert_eq!(n.accent.fg, None);
        assert!(Theme::load("neon", Path::new("/nonexistent"), false).is_err());
    }
}
