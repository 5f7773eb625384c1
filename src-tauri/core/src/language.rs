//! Which language a text is in, and which voices speak it.
//!
//! Detection only tells the scripts apart that a voice cannot read across: Chinese
//! (ideographs) and Japanese (kana, with or without ideographs). Everything else is left to
//! the configured voice. A sentence is switched only when most of its letters are CJK, so an
//! English sentence quoting one character stays English.

/// A voice an engine has installed, with its language when known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Voice {
    pub id: String,
    pub name: String,
    /// A BCP 47 tag (`en-US`, `zh`, `ja`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl Voice {
    /// A voice whose language is given, or else read from a Kokoro voice id.
    pub fn new(id: &str, name: &str, language: Option<&str>) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            language: language
                .map(normalise)
                .or_else(|| kokoro_language(id).map(String::from)),
        }
    }

    /// Whether it speaks `language` (compared by primary subtag: `en-US` speaks `en`).
    pub fn speaks(&self, language: &str) -> bool {
        self.language
            .as_deref()
            .is_some_and(|l| primary(l) == primary(language))
    }
}

/// `en_US` → `en-US`.
fn normalise(tag: &str) -> String {
    tag.replace('_', "-")
}

/// `en-US` → `en`.
pub fn primary(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Kokoro's voices are named `<language><gender>_<name>`: `af_heart`, `zf_xiaobei`.
pub fn kokoro_language(id: &str) -> Option<&'static str> {
    let mut chars = id.chars();
    let (language, gender, underscore) = (chars.next()?, chars.next()?, chars.next()?);
    if !matches!(gender, 'f' | 'm') || underscore != '_' {
        return None;
    }
    Some(match language {
        'a' => "en-US",
        'b' => "en-GB",
        'e' => "es",
        'f' => "fr",
        'h' => "hi",
        'i' => "it",
        'j' => "ja",
        'p' => "pt-BR",
        'z' => "zh",
        _ => return None,
    })
}

/// Kokoro's `lang_code` for a language (what misaki's front ends are keyed by).
pub fn kokoro_lang_code(language: &str) -> Option<&'static str> {
    Some(match language {
        "en-GB" => "b",
        _ => match primary(language) {
            "en" => "a",
            "es" => "e",
            "fr" => "f",
            "hi" => "h",
            "it" => "i",
            "ja" => "j",
            "pt" => "p",
            "zh" => "z",
            _ => return None,
        },
    })
}

/// `zh` or `ja` when most of the text's letters are Chinese or Japanese; else `None` (the
/// configured voice reads it).
pub fn detect(text: &str) -> Option<&'static str> {
    let (mut kana, mut han, mut letters) = (0usize, 0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if is_kana(c) {
            kana += 1;
        } else if is_han(c) {
            han += 1;
        }
    }
    let cjk = kana + han;
    if cjk == 0 || cjk * 2 < letters {
        return None;
    }
    // Japanese writes kana between its ideographs; a stray kana in Chinese stays Chinese.
    Some(if kana * 10 >= cjk { "ja" } else { "zh" })
}

/// The language's name, for messages.
pub fn name(language: &str) -> &str {
    match primary(language) {
        "zh" => "Chinese",
        "ja" => "Japanese",
        "en" => "English",
        other => other,
    }
}

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' | '\u{ff66}'..='\u{ff9f}')
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_and_japanese_are_told_apart_and_english_stays_english() {
        assert_eq!(detect("你好，世界。今天天气很好。"), Some("zh"));
        assert_eq!(detect("こんにちは、世界。"), Some("ja"));
        assert_eq!(detect("東京に行きます。"), Some("ja"));
        assert_eq!(detect("我喜欢用 Python 编程"), Some("zh"));
        // One character in an English sentence does not make it Chinese.
        assert_eq!(detect("The character 愛 means love."), None);
        assert_eq!(detect("Hello, 世界"), None);
        assert_eq!(detect("Hello there"), None);
        assert_eq!(detect("12345"), None);
        // A stray kana in a long Chinese text keeps it Chinese.
        assert_eq!(
            detect("这是一个很长的中文句子，里面有一个の字，但还是中文。"),
            Some("zh")
        );
    }

    #[test]
    fn kokoro_ids_carry_their_language() {
        assert_eq!(kokoro_language("af_heart"), Some("en-US"));
        assert_eq!(kokoro_language("bf_emma"), Some("en-GB"));
        assert_eq!(kokoro_language("zf_xiaobei"), Some("zh"));
        assert_eq!(kokoro_language("jf_alpha"), Some("ja"));
        assert_eq!(kokoro_language("joe"), None);
        assert_eq!(kokoro_language("xf_unknown"), None);
        assert_eq!(kokoro_lang_code("en-GB"), Some("b"));
        assert_eq!(kokoro_lang_code("en-US"), Some("a"));
        assert_eq!(kokoro_lang_code("zh"), Some("z"));
        assert!(Voice::new("joe", "Joe", Some("en_US")).speaks("en"));
        assert!(Voice::new("jf_alpha", "jf_alpha", None).speaks("ja"));
        assert!(!Voice::new("joe", "Joe", None).speaks("en"));
    }
}
