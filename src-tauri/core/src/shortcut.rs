//! Global shortcuts as people write them: `Ctrl+Alt+Space`, `Super+Shift+D`, `F13`. Parsed
//! once (config validation, the settings window's key capture), written back in one canonical
//! spelling that the desktop shell's shortcut library reads too.

use std::fmt;

/// A modifier key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Modifier {
    Ctrl,
    Alt,
    Shift,
    /// The Windows key, Command on macOS.
    Super,
}

impl Modifier {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ctrl" | "control" => Self::Ctrl,
            "alt" | "option" | "opt" => Self::Alt,
            "shift" => Self::Shift,
            "super" | "meta" | "cmd" | "command" | "win" => Self::Super,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Ctrl => "Ctrl",
            Self::Alt => "Alt",
            Self::Shift => "Shift",
            Self::Super => "Super",
        }
    }
}

/// Keys that may be the shortcut's key, by canonical name (besides letters, digits and F1–F24).
const NAMED: &[&str] = &[
    "Space",
    "Enter",
    "Tab",
    "Backspace",
    "Insert",
    "Delete",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Up",
    "Down",
    "Left",
    "Right",
    "Period",
    "Comma",
    "Slash",
    "Backslash",
    "Semicolon",
    "Quote",
    "Minus",
    "Equal",
    "BracketLeft",
    "BracketRight",
    "Backquote",
    "Pause",
    "ScrollLock",
];

/// A shortcut: modifiers and one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut {
    pub modifiers: Vec<Modifier>,
    /// Canonical: `A`–`Z`, `0`–`9`, `F1`–`F24`, or one of the named keys (`Space`, …).
    pub key: String,
}

impl Shortcut {
    /// Parse `Ctrl+Alt+Space` (any case; `+` between parts). A letter, digit or common key
    /// needs a modifier (a bare `A` would swallow every A typed); F13–F24 and Pause may stand
    /// alone, since nothing types them.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split('+').map(str::trim).collect();
        let Some((key, modifiers)) = parts.split_last() else {
            return Err("is empty".into());
        };
        let mut mods = Vec::new();
        for part in modifiers {
            let modifier = Modifier::from_name(part)
                .ok_or_else(|| format!("{part:?} is not a modifier (Ctrl, Alt, Shift or Super)"))?;
            if mods.contains(&modifier) {
                return Err(format!("names {} twice", modifier.as_str()));
            }
            mods.push(modifier);
        }
        mods.sort();
        let key = canonical_key(key).ok_or_else(|| {
            format!(
                "{key:?} is not a key Murmur can listen for (a letter, a digit, F1–F24, Space, Period, …)"
            )
        })?;
        let alone = key == "Pause" || key == "ScrollLock" || function_number(&key) >= Some(13);
        if mods.is_empty() && !alone {
            return Err(format!(
                "{key} alone would be taken from every app: add Ctrl, Alt, Shift or Super"
            ));
        }
        if mods == [Modifier::Shift] && !alone && function_number(&key).is_none() {
            return Err(format!(
                "Shift+{key} is how people type: add Ctrl, Alt or Super"
            ));
        }
        Ok(Self {
            modifiers: mods,
            key,
        })
    }
}

impl Shortcut {
    /// The shortcut as the desktop portal's GlobalShortcuts takes a preferred trigger
    /// (freedesktop's shortcuts format: `CTRL+ALT+space`, modifiers in capitals, the key as
    /// its XKB keysym name).
    pub fn xdg_trigger(&self) -> String {
        let mut out = String::new();
        for modifier in &self.modifiers {
            out.push_str(match modifier {
                Modifier::Ctrl => "CTRL",
                Modifier::Alt => "ALT",
                Modifier::Shift => "SHIFT",
                Modifier::Super => "LOGO",
            });
            out.push('+');
        }
        let keysym = match self.key.as_str() {
            "Space" => "space",
            "Enter" => "Return",
            "Backspace" => "BackSpace",
            "PageUp" => "Page_Up",
            "PageDown" => "Page_Down",
            "Period" => "period",
            "Comma" => "comma",
            "Slash" => "slash",
            "Backslash" => "backslash",
            "Semicolon" => "semicolon",
            "Quote" => "apostrophe",
            "Minus" => "minus",
            "Equal" => "equal",
            "BracketLeft" => "bracketleft",
            "BracketRight" => "bracketright",
            "Backquote" => "grave",
            "ScrollLock" => "Scroll_Lock",
            // Letters are their lower-case keysyms; digits, F-keys and the rest as written.
            key if key.len() == 1 => {
                out.push_str(&key.to_ascii_lowercase());
                return out;
            }
            key => key,
        };
        out.push_str(keysym);
        out
    }
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for modifier in &self.modifiers {
            write!(f, "{}+", modifier.as_str())?;
        }
        f.write_str(&self.key)
    }
}

fn function_number(key: &str) -> Option<u8> {
    key.strip_prefix('F')?
        .parse()
        .ok()
        .filter(|n| (1..=24).contains(n))
}

fn canonical_key(name: &str) -> Option<String> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && c.is_ascii_alphanumeric()
    {
        return Some(c.to_ascii_uppercase().to_string());
    }
    let upper = name.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix('F').and_then(|n| n.parse::<u8>().ok())
        && (1..=24).contains(&n)
    {
        return Some(format!("F{n}"));
    }
    let aliases = [
        (".", "Period"),
        (",", "Comma"),
        ("/", "Slash"),
        ("Return", "Enter"),
    ];
    if let Some((_, to)) = aliases
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(name))
    {
        return Some((*to).to_string());
    }
    NAMED
        .iter()
        .find(|named| named.eq_ignore_ascii_case(name))
        .map(|named| (*named).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_read_as_written_and_print_canonically() {
        let cases = [
            ("Ctrl+Alt+Space", "Ctrl+Alt+Space"),
            ("alt + ctrl + space", "Ctrl+Alt+Space"),
            ("cmd+shift+d", "Shift+Super+D"),
            ("F13", "F13"),
            ("Control+Option+.", "Ctrl+Alt+Period"),
            ("Ctrl+Alt+r", "Ctrl+Alt+R"),
            ("Shift+F5", "Shift+F5"),
        ];
        for (written, canonical) in cases {
            let parsed = Shortcut::parse(written).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(parsed.to_string(), canonical);
            assert_eq!(Shortcut::parse(canonical), Ok(parsed));
        }
    }

    #[test]
    fn the_portal_gets_the_shortcut_as_keysym_names() {
        for (written, trigger) in [
            ("Ctrl+Alt+Space", "CTRL+ALT+space"),
            ("Ctrl+Alt+R", "CTRL+ALT+r"),
            ("Super+Shift+7", "SHIFT+LOGO+7"),
            ("F13", "F13"),
            ("Ctrl+Alt+Period", "CTRL+ALT+period"),
            ("Alt+PageDown", "ALT+Page_Down"),
        ] {
            let shortcut = Shortcut::parse(written).expect(written);
            assert_eq!(shortcut.xdg_trigger(), trigger, "{written}");
        }
    }

    #[test]
    fn shortcuts_that_would_take_typing_away_are_refused_with_the_reason() {
        for (written, says) in [
            ("A", "alone"),
            ("Space", "alone"),
            ("Shift+A", "how people type"),
            ("Ctrl+Ctrl+A", "twice"),
            ("Hyper+A", "not a modifier"),
            ("Ctrl+Alt+Nope", "not a key"),
            ("Ctrl+F25", "not a key"),
            ("", "not a key"),
        ] {
            let e = Shortcut::parse(written).expect_err(written);
            assert!(e.contains(says), "{written}: {e}");
        }
    }
}
