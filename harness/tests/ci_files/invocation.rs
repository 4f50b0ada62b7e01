//! Reading a template's shell: the `faultline ...` and `ci/*.sh ...` commands it runs, and
//! whether each subcommand and `--flag` exists — asked of the real CLIs' `--help`, so the
//! answer can never drift from clap's definition or the script's argument parser.

use super::{repo, FAULTLINE};
use std::collections::BTreeSet;
use std::process::Command;

/// Simple commands of a shell script, as words: quotes are dropped (nothing is expanded), and
/// `;` `|` `&` `(` `)` backquotes and newlines end a command, so `x=$(ci/sweep.sh --a) || y`
/// yields `["x=$"]`, `["ci/sweep.sh", "--a"]`, `["y"]`. Comments are skipped. Good enough for
/// the templates' own scripts, which is all it reads.
pub fn commands(script: &str) -> Vec<Vec<String>> {
    let script = script.replace("\\\n", " ");
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, commands: &mut Vec<Vec<String>>| {
        if !word.is_empty() {
            commands.last_mut().unwrap().push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if word.is_empty() => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            (None, ';' | '|' | '&' | '(' | ')' | '`' | '\n') => {
                end_word(&mut word, &mut commands);
                commands.push(Vec::new());
            }
            (None, c) if c.is_whitespace() => end_word(&mut word, &mut commands),
            (None, c) => word.push(c),
        }
    }
    end_word(&mut word, &mut commands);
    commands.retain(|command| !command.is_empty());
    commands
}

#[derive(Debug)]
pub struct Invocation {
    /// `faultline` or a script path such as `ci/sweep.sh`.
    pub program: String,
    pub args: Vec<String>,
}

pub fn is_script(word: &str) -> bool {
    let word = word.trim_start_matches("./");
    word.starts_with("ci/") && word.ends_with(".sh")
}

/// Words that may stand before a command's program: `VAR=value`, `exec`, `bash`.
fn precedes_program(word: &str) -> bool {
    let assignment = word.contains('=') && !word.starts_with('-');
    assignment || word == "exec" || word == "bash"
}

/// The `faultline ...` and `ci/*.sh ...` commands of a script: the program word must come
/// first, after only `VAR=value` assignments or `exec`/`bash`, so `chmod +x bin/faultline` is
/// not an invocation.
pub fn invocations(script: &str) -> Vec<Invocation> {
    let mut found = Vec::new();
    for words in commands(script) {
        let start = words.iter().position(|w| !precedes_program(w));
        let Some(start) = start else { continue };
        let program = words[start].trim_start_matches("./");
        if program == "faultline" || program.ends_with("/faultline") {
            let args = words[start + 1..].to_vec();
            found.push(Invocation {
                program: "faultline".into(),
                args,
            });
        } else if is_script(program) {
            let args = words[start + 1..].to_vec();
            found.push(Invocation {
                program: program.into(),
                args,
            });
        }
    }
    found
}

pub fn help(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?} failed");
    String::from_utf8(output.stdout).unwrap()
}

/// The `--long` flags a `--help` text names.
pub fn flags_of(help: &str) -> BTreeSet<String> {
    help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.len() > 2 && w.starts_with("--") && !w.starts_with("---"))
        .map(String::from)
        .collect()
}

/// The subcommands `faultline --help` lists.
fn faultline_subcommands() -> BTreeSet<String> {
    let help = help(FAULTLINE, &["--help"]);
    let listed = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section");
    listed
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next().map(String::from))
        .collect()
}

fn flag_name(word: &str) -> Option<&str> {
    let name = word.split('=').next().unwrap();
    (name.len() > 2 && name.starts_with("--")).then_some(name)
}

/// Checks an invocation against the real CLIs; returns a description of what is wrong.
pub fn problems(invocation: &Invocation, where_: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check_flags = |words: &[String], known: &BTreeSet<String>, what: &str| {
        for word in words.iter().take_while(|w| *w != "--") {
            if let Some(flag) = flag_name(word) {
                if !known.contains(flag) {
                    problems.push(format!("{where_}: {what} has no flag {flag}"));
                }
            }
        }
    };
    if invocation.program == "faultline" {
        let Some(subcommand) = invocation.args.first() else {
            return vec![format!("{where_}: `faultline` without a subcommand")];
        };
        if !faultline_subcommands().contains(subcommand) {
            return vec![format!(
                "{where_}: faultline has no subcommand {subcommand:?}"
            )];
        }
        let known = flags_of(&help(FAULTLINE, &[subcommand, "--help"]));
        check_flags(
            &invocation.args[1..],
            &known,
            &format!("faultline {subcommand}"),
        );
    } else {
        let path = repo().join(&invocation.program);
        let known = flags_of(&help("bash", &[path.to_str().unwrap(), "--help"]));
        check_flags(&invocation.args, &known, &invocation.program);
        // After `--`, ci/sweep.sh passes the words on to `faultline run`.
        if let Some(split) = invocation.args.iter().position(|w| w == "--") {
            let known = flags_of(&help(FAULTLINE, &["run", "--help"]));
            check_flags(&invocation.args[split + 1..], &known, "faultline run");
        }
    }
    problems
}

#[test]
fn commands_split_where_the_shell_would() {
    let script = "x=$(ci/sweep.sh --seeds \"$N\" --print-seeds) || y # faultline run\n\
                  exec bin/faultline merge a \\\n  --out 'm n'; chmod +x bin/faultline";
    let split = commands(script);
    let words: Vec<Vec<&str>> = split
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        words,
        [
            vec!["x=$"],
            vec!["ci/sweep.sh", "--seeds", "$N", "--print-seeds"],
            vec!["y"],
            vec!["exec", "bin/faultline", "merge", "a", "--out", "m n"],
            vec!["chmod", "+x", "bin/faultline"],
        ]
    );
    let found: Vec<String> = invocations(script)
        .iter()
        .map(|i| format!("{} {}", i.program, i.args.join(" ")))
        .collect();
    assert_eq!(
        found,
        [
            "ci/sweep.sh --seeds $N --print-seeds",
            "faultline merge a --out m n"
        ]
    );
}
