//! Turning uv's output lines into warm-up progress.

use crate::problem::Stage;
use crate::status::Warmup;

/// The warm-up a line of `uv sync` output means, if any.
pub fn parse_uv_line(line: &str) -> Option<Warmup> {
    let line = line.trim();
    let words: Vec<&str> = line.split_whitespace().collect();
    let count = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
    let warmup = |stage: Stage, done: Option<u64>, total: Option<u64>| Warmup {
        stage: Some(stage),
        done,
        total,
        unit: total.map(|_| crate::status::Unit::Packages),
        message: Some(line.to_string()),
    };
    match words.first().copied()? {
        "Downloading" if words.get(1).is_some_and(|w| w.starts_with("cpython")) => {
            Some(warmup(Stage::Python, None, None))
        }
        "Using" | "Creating" | "Installed"
            if line.contains("Python") || line.contains("virtual environment") =>
        {
            Some(warmup(Stage::Python, None, None))
        }
        "Resolved" => Some(warmup(Stage::Packages, Some(0), count(1))),
        "Downloading" | "Building" | "Built" => Some(warmup(Stage::Packages, None, None)),
        "Prepared" => Some(warmup(Stage::Packages, None, None)),
        "Installed" | "Audited" => {
            let n = count(1);
            Some(warmup(Stage::Packages, n, n))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_lines_become_stages_with_counts() {
        let resolved = parse_uv_line("Resolved 54 packages in 3ms").expect("known");
        assert_eq!(
            (resolved.stage, resolved.total),
            (Some(Stage::Packages), Some(54))
        );
        let installed = parse_uv_line("Installed 12 packages in 210ms").expect("known");
        assert_eq!((installed.done, installed.total), (Some(12), Some(12)));
        let python =
            parse_uv_line("Using CPython 3.11.2 interpreter at: /usr/bin/python3").expect("known");
        assert_eq!(python.stage, Some(Stage::Python));
        let managed =
            parse_uv_line("Downloading cpython-3.12.8-linux-x86_64-gnu (download) (19.9MiB)")
                .expect("known");
        assert_eq!(managed.stage, Some(Stage::Python));
        let wheel = parse_uv_line("Downloading onnxruntime (15.4MiB)").expect("known");
        assert_eq!(wheel.stage, Some(Stage::Packages));
        assert_eq!(parse_uv_line("warning: something odd"), None);
    }
}
