//! The README's walk-throughs as a test: every ```sh block under a heading
//! that names a walk-through, in order, becomes one bash script (so
//! variables carry from block to block), and each command whose last line
//! ends in `# => <text>` must print exactly `<text>` (one line, compared
//! after trimming). Everything else the commands print goes to the log.

/// The fenced `sh` blocks under headings that contain "Walk-through", in
/// document order.
pub fn blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut in_section = false;
    let mut current: Option<String> = None;
    for line in readme.lines() {
        if let Some(block) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                blocks.push(std::mem::take(block));
                current = None;
            } else {
                block.push_str(line);
                block.push('\n');
            }
            continue;
        }
        if line.starts_with('#') {
            in_section = line.contains("Walk-through");
        } else if in_section && line.trim() == "```sh" {
            current = Some(String::new());
        }
    }
    blocks
}

/// Defined before the walk-through runs: the check behind `# =>`.
const PRELUDE: &str = r#"__expect() {
  local line=$1 got=$2 want=$3
  got=$(printf '%s' "$got" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
  if [ "$got" != "$want" ]; then
    printf 'README line %s printed:\n%s\nbut its comment promises:\n%s\n' "$line" "$got" "$want" >&2
    exit 1
  fi
  printf '%s\n' "$got"
}
"#;

/// A command as written: its physical lines (joined by `\`-continuations)
/// and the line number of its first one.
struct Command {
    first_line: usize,
    lines: Vec<String>,
}

/// The runnable script of `blocks`: each command with a promise is run in
/// a command substitution and its output checked; the rest run as they
/// are. Failures name the command by its line within the walk-through.
pub fn script(blocks: &[String]) -> String {
    let mut out = String::from(PRELUDE);
    let mut number = 0;
    for block in blocks {
        let mut pending: Option<Command> = None;
        for line in block.lines() {
            number += 1;
            let command = pending.get_or_insert_with(|| Command {
                first_line: number,
                lines: Vec::new(),
            });
            command.lines.push(line.to_string());
            if !line.trim_end().ends_with('\\') {
                if let Some(command) = pending.take() {
                    out.push_str(&render(&command));
                }
            }
        }
        if let Some(command) = pending.take() {
            out.push_str(&render(&command));
        }
    }
    out
}

fn render(command: &Command) -> String {
    let Some((last, head)) = command.lines.split_last() else {
        return String::new();
    };
    let Some((code, promise)) = split_promise(last) else {
        let mut text = command.lines.join("\n");
        text.push('\n');
        return text;
    };
    let mut body = head.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    body.push_str(code.trim_end());
    format!(
        "__got=$({body}\n)\n__expect {} \"$__got\" '{}'\n",
        command.first_line,
        promise.replace('\'', r"'\''")
    )
}

/// `code   # => promise` split at the promise marker, if the line has one
/// outside quotes.
fn split_promise(line: &str) -> Option<(&str, &str)> {
    let mut quote: Option<char> = None;
    let mut found = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if line[i..].starts_with("# =>") => found = Some(i),
            _ => {}
        }
    }
    let at = found?;
    Some((&line[..at], line[at + 4..].trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "# spinshop\n\n```sh\necho not this\n```\n\n## Walk-through\n\n\
        Text.\n\n```sh\nA=1\necho $A   # => 1\n```\n\n```json\n{}\n```\n\n\
        ## Layout\n\n```sh\necho nor this\n```\n\n### Walk-through: search\n\n\
        ```sh\nprintf 'a\\n' \\\n  | tr a b   # => b\n```\n";

    #[test]
    fn only_walk_through_sh_blocks_are_taken_in_order() {
        let blocks = blocks(README);
        assert_eq!(
            blocks,
            vec![
                "A=1\necho $A   # => 1\n".to_string(),
                "printf 'a\\n' \\\n  | tr a b   # => b\n".to_string()
            ]
        );
    }

    #[test]
    fn promises_become_checks_and_the_rest_runs_as_written() {
        let script = script(&blocks(README));
        assert!(script.starts_with(PRELUDE));
        let body = &script[PRELUDE.len()..];
        assert_eq!(
            body,
            "A=1\n__got=$(echo $A\n)\n__expect 2 \"$__got\" '1'\n\
             __got=$(printf 'a\\n' \\\n  | tr a b\n)\n__expect 3 \"$__got\" 'b'\n"
        );
    }

    #[test]
    fn a_marker_inside_quotes_is_not_a_promise() {
        assert_eq!(split_promise("echo '# => no'"), None);
        assert_eq!(
            split_promise("echo \"x\"  # => x"),
            Some(("echo \"x\"  ", "x"))
        );
        let script = script(&["echo \"it's\"   # => it's\n".to_string()]);
        assert!(script.contains(r"'it'\''s'"), "{script}");
    }
}
