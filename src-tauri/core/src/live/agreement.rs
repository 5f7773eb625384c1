//! Words while people speak, and only words that will stay: a turn is decoded again as it
//! grows, each time continuing after the words already sent (the engine's `prefix`), and a
//! word is sent once two decodes in a row agree on it (LocalAgreement-2), as words: whatever
//! their case and the punctuation around them (Whisper writes a turn's first word "The" in one
//! decode and "the" in the next, and ends each guess with a full stop). The newer decode's
//! spelling is sent, capitalised when it begins the turn and either decode capitalised it.
//! What is sent is never taken back, so the deltas concatenate to the completed transcript
//! exactly: the final decode continues after them too.

/// One turn's text: what was sent, and the last decode's guess at what follows.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The deltas sent, concatenated.
    sent: String,
    /// The words the last partial decode put after `sent`.
    guess: Vec<String>,
}

impl Agreement {
    /// What was sent so far: the prefix the next decode continues after.
    pub fn sent(&self) -> &str {
        &self.sent
    }

    /// A partial decode's `continuation` of [`Self::sent`]: the delta to send now, if the
    /// decode before it agreed on more words.
    pub fn partial(&mut self, continuation: &str) -> Option<String> {
        let words: Vec<String> = continuation.split_whitespace().map(String::from).collect();
        let agreed = self
            .guess
            .iter()
            .zip(&words)
            .take_while(|(a, b)| same_word(a, b))
            .count();
        let mut chosen = words[..agreed].to_vec();
        if self.sent.is_empty()
            && let (Some(first), Some(before)) = (chosen.first_mut(), self.guess.first())
            && before.starts_with(char::is_uppercase)
        {
            *first = capitalised(first);
        }
        let delta = self.extend(&chosen);
        self.guess = words[agreed..].to_vec();
        delta
    }

    /// The final decode's `continuation`: the last delta (what remains), and the whole
    /// transcript, which begins with every delta sent.
    pub fn finish(mut self, continuation: &str) -> (Option<String>, String) {
        let words: Vec<String> = continuation.split_whitespace().map(String::from).collect();
        let delta = self.extend(&words);
        (delta, self.sent)
    }

    fn extend(&mut self, words: &[String]) -> Option<String> {
        if words.is_empty() {
            return None;
        }
        let mut delta = String::new();
        for word in words {
            if !(self.sent.is_empty() && delta.is_empty()) {
                delta.push(' ');
            }
            delta.push_str(word);
        }
        self.sent.push_str(&delta);
        Some(delta)
    }
}

/// The same word, whatever its case and the punctuation around it.
fn same_word(a: &str, b: &str) -> bool {
    let bare = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
            .to_lowercase()
    };
    bare(a) == bare(b)
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_sent_once_two_decodes_agree_and_concatenate_to_the_transcript() {
        let mut turn = Agreement::default();
        let mut deltas = Vec::new();
        // Each decode continues after what was sent (the engine's prefix).
        deltas.extend(turn.partial("The quick"));
        assert!(deltas.is_empty(), "one decode alone sends nothing");
        deltas.extend(turn.partial("The quick brown"));
        assert_eq!(deltas, ["The quick"]);
        assert_eq!(turn.sent(), "The quick");
        deltas.extend(turn.partial("brown fax"));
        deltas.extend(turn.partial("brown fox jumps"));
        assert_eq!(deltas, ["The quick", " brown"]);
        let (last, transcript) = turn.finish("fox jumps over the dog.");
        deltas.extend(last);
        assert_eq!(transcript, "The quick brown fox jumps over the dog.");
        assert_eq!(deltas.concat(), transcript);
    }

    #[test]
    fn decodes_that_differ_in_case_and_stops_still_agree() {
        // Whisper tiny.en's partials of one turn, as CI logged them.
        let mut turn = Agreement::default();
        assert_eq!(turn.partial("the library of"), None);
        assert_eq!(
            turn.partial("The library opens early in.").as_deref(),
            Some("The library")
        );
        assert_eq!(
            turn.partial("opens early in the morning and close.")
                .as_deref(),
            Some(" opens early in")
        );
        assert_eq!(
            turn.partial("the morning and closes late in the")
                .as_deref(),
            Some(" the morning and")
        );
        let (last, transcript) = turn.finish("closes late in the evening.");
        assert_eq!(last.as_deref(), Some(" closes late in the evening."));
        assert_eq!(
            transcript,
            "The library opens early in the morning and closes late in the evening."
        );
        assert!(!same_word("close.", "closes"));
    }

    #[test]
    fn a_turn_with_no_partial_agreement_is_its_final_decode() {
        let mut turn = Agreement::default();
        assert_eq!(turn.partial("Hi"), None);
        let (last, transcript) = turn.finish("Hello there.");
        assert_eq!(last.as_deref(), Some("Hello there."));
        assert_eq!(transcript, "Hello there.");
        let (last, transcript) = Agreement::default().finish("  ");
        assert_eq!((last, transcript.as_str()), (None, ""));
    }
}
