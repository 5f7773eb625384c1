//! Text written for screens, made to be heard: an agent's Markdown answer, a web page's
//! selection. Marks are dropped (`**`, `#`, backticks, list bullets, table rules), links read
//! as their words, bare addresses as "a link to example.com", code blocks are skipped with a
//! word saying so, and emoji are left out. Each heading, item and table row ends as a sentence,
//! so the voice pauses where the eye would.

/// What is said instead of a fenced code block.
pub const CODE_BLOCK: &str = "Code block skipped.";

/// `text`, ready for a speech engine.
pub fn prepare(text: &str) -> String {
    let mut lines = Vec::new();
    let mut in_fence = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with("```") || line.starts_with("~~~") {
            if !in_fence {
                lines.push(CODE_BLOCK.to_string());
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if let Some(spoken) = spoken_line(line) {
            lines.push(spoken);
        }
    }
    lines.join("\n")
}

/// One line without its block marks, ended as a sentence when it was a block of its own.
fn spoken_line(line: &str) -> Option<String> {
    if line.is_empty() || is_rule(line) {
        return None;
    }
    let (body, block) = if let Some(rest) = heading(line) {
        (rest.to_string(), true)
    } else if line.starts_with('|') {
        if line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
            return None;
        }
        let cells: Vec<&str> = line
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        (cells.join(", "), true)
    } else if let Some(rest) = line.strip_prefix('>') {
        (rest.trim_start_matches(['>', ' ']).to_string(), false)
    } else if let Some(rest) = list_item(line) {
        (rest.to_string(), true)
    } else {
        (line.to_string(), false)
    };
    let mut spoken = inline(&body);
    spoken = spoken.split_whitespace().collect::<Vec<_>>().join(" ");
    if spoken.is_empty() {
        return None;
    }
    if block && !spoken.ends_with(['.', '!', '?', ':', ';']) {
        spoken.push('.');
    }
    Some(spoken)
}

fn is_rule(line: &str) -> bool {
    let marks: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    marks.len() >= 3
        && (marks.chars().all(|c| c == '-')
            || marks.chars().all(|c| c == '*')
            || marks.chars().all(|c| c == '_')
            || marks.chars().all(|c| c == '='))
}

fn heading(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    ((1..=6).contains(&level) && rest.starts_with(' ')).then(|| rest.trim())
}

fn list_item(line: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            let rest = rest.trim_start();
            return Some(
                ["[ ] ", "[x] ", "[X] "]
                    .iter()
                    .find_map(|b| rest.strip_prefix(b))
                    .unwrap_or(rest),
            );
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest.trim_start());
        }
    }
    None
}

/// Inline marks: links, images, bare addresses, code spans, emphasis, HTML tags, emoji.
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // [words](address) and ![description](address): the words.
        if c == '[' || (c == '!' && chars.get(i + 1) == Some(&'[')) {
            let open = if c == '!' { i + 1 } else { i };
            if let Some((words, next)) = link(&chars, open) {
                out.push_str(&inline(&words));
                i = next;
                continue;
            }
        }
        if c == '<'
            && let Some(end) = chars[i..].iter().position(|&c| c == '>')
        {
            let tag: String = chars[i + 1..i + end].iter().collect();
            if let Some(address) = tag.strip_prefix("http") {
                out.push_str(&spoken_address(&format!("http{address}")));
                i += end + 1;
                continue;
            }
            if tag.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/') {
                out.push(' ');
                i += end + 1;
                continue;
            }
        }
        if (c == 'h' || c == 'w') && at_word_start(&chars, i) {
            let rest: String = chars[i..].iter().collect();
            if rest.starts_with("https://")
                || rest.starts_with("http://")
                || rest.starts_with("www.")
            {
                let len = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '"'))
                    .unwrap_or(rest.len());
                let address = rest[..len].trim_end_matches(['.', ',', ';', ':', '!', '?']);
                out.push_str(&spoken_address(address));
                i += address.chars().count();
                continue;
            }
        }
        if c == '`' {
            i += 1;
            continue;
        }
        if matches!(c, '*' | '_' | '~') && is_emphasis(&chars, i) {
            i += 1;
            continue;
        }
        if is_emoji(c) {
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// `[words](address)` starting at `open`: the words and where the link ends.
fn link(chars: &[char], open: usize) -> Option<(String, usize)> {
    let close = open + chars[open..].iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 1 + chars[close + 1..].iter().position(|&c| c == ')')?;
    Some((chars[open + 1..close].iter().collect(), end + 1))
}

/// `https://www.example.com/a/b` → "a link to example.com".
fn spoken_address(address: &str) -> String {
    let host = address
        .split_once("://")
        .map_or(address, |(_, rest)| rest)
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or("");
    let host = host.strip_prefix("www.").unwrap_or(host);
    if host.is_empty() {
        "a link".into()
    } else {
        format!("a link to {host}")
    }
}

fn at_word_start(chars: &[char], i: usize) -> bool {
    i == 0 || !chars[i - 1].is_alphanumeric()
}

/// A `*`, `_` or `~` that marks emphasis rather than being part of a word (`snake_case`,
/// `2 * 3`).
fn is_emphasis(chars: &[char], i: usize) -> bool {
    let before = i.checked_sub(1).map(|b| chars[b]);
    let after = chars.get(i + 1).copied();
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let space = |c: Option<char>| c.is_none_or(char::is_whitespace);
    if chars[i] == '_' && word(before) && word(after) {
        return false;
    }
    // Surrounded by spaces, it is arithmetic or a lone mark: kept.
    !(space(before) && space(after))
}

/// Pictographs, symbols and the joiners between them.
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0E..=0xFE0F | 0x200D
            | 0x20E3 | 0xE0020..=0xE007F)
}

#[cfg(test)]
mod tests {
    use super::prepare;

    #[test]
    fn an_agents_markdown_answer_reads_as_speech() {
        let answer = "## Summary 🎉\n\nI **fixed** the `parse_config` bug in \
                      [the parser](https://github.com/acme/app/pull/12).\n\n\
                      - First, update *settings*\n- Then run the tests ✅\n\n\
                      ```rust\nfn main() {}\n```\n\n> See https://www.example.com/docs?x=1.\n\n---\n\n\
                      | Name | Size |\n|------|-----:|\n| joe | 63 MB |\n";
        assert_eq!(
            prepare(answer),
            "Summary.\nI fixed the parse_config bug in the parser.\nFirst, update settings.\n\
             Then run the tests.\nCode block skipped.\nSee a link to example.com.\n\
             Name, Size.\njoe, 63 MB."
        );
    }

    #[test]
    fn plain_text_and_arithmetic_are_left_alone() {
        for plain in [
            "It is 2 * 3 = 6, said snake_case_name.",
            "Hello, world!",
            "Room #4 is open.",
            "<3 is not a tag",
        ] {
            assert_eq!(prepare(plain), plain);
        }
        assert_eq!(prepare("1. One\n2) Two"), "One.\nTwo.");
        assert_eq!(prepare("Line<br>break"), "Line break");
        assert_eq!(prepare("See <https://x.org/a>"), "See a link to x.org");
        assert_eq!(prepare("![a chart](c.png) below"), "a chart below");
        assert_eq!(prepare("👍🏽 👨‍👩‍👧 ok"), "ok");
        assert_eq!(prepare("```\nonly code\n"), "Code block skipped.");
        assert_eq!(prepare(""), "");
    }
}
