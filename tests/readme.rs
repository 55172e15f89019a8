//! The README's promise, checked: its first screen shows exactly two commands, the quick start
//! and the test command; the test command is the one CI runs; the quick start runs, on the
//! embedded server, to a completed intent and its event log; and when the server it is pointed
//! at cannot be reached, it says so in one line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

const MAIN_JOB: &str = "cargo run --example quickstart";
const TEST_COMMAND: &str = "cargo test --workspace --all-features";
/// How many lines a first screen has.
const FIRST_SCREEN_LINES: usize = 24;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The command lines between `<!-- first-commands -->` and `<!-- /first-commands -->`, and the
/// line number of the closing marker.
fn first_commands(readme: &str) -> (Vec<String>, usize) {
    let lines: Vec<&str> = readme.lines().collect();
    let start = lines.iter().position(|l| l.trim() == "<!-- first-commands -->").expect("opening marker");
    let end = lines.iter().position(|l| l.trim() == "<!-- /first-commands -->").expect("closing marker");
    assert!(start < end, "markers out of order");
    let commands = lines[start + 1..end]
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("```") && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    (commands, end + 1)
}

#[test]
fn the_first_screen_shows_exactly_the_two_commands() {
    let readme = read("README.md");
    let (commands, end_line) = first_commands(&readme);
    assert_eq!(commands, [MAIN_JOB, TEST_COMMAND]);
    assert!(end_line <= FIRST_SCREEN_LINES, "the commands end on line {end_line}, below the first screen");
    // Nothing above them but the title and the introduction: no other command.
    let above: Vec<&str> = readme.lines().take_while(|l| l.trim() != "<!-- first-commands -->").collect();
    assert!(above.iter().all(|l| !l.trim_start().starts_with("cargo ")), "{above:?}");
}

#[test]
fn ci_runs_the_readme_commands_as_written() {
    let ci = read(".ci/run");
    let test_step = ci.split("step_test() {").nth(1).expect("a test step").split('}').next().unwrap();
    assert!(test_step.contains(&format!("{TEST_COMMAND} ")), "the test step runs {TEST_COMMAND:?}: {test_step}");
    let readme_step = ci.split("step_readme() {").nth(1).expect("a readme step").split("\n}").next().unwrap();
    assert!(readme_step.contains(MAIN_JOB), "the readme step runs {MAIN_JOB:?}: {readme_step}");
    let steps = ci.lines().find(|l| l.starts_with("STEPS=(")).expect("a STEPS line");
    assert!(steps.contains(" readme"), "{steps}");
}

/// The quickstart binary `cargo test` built beside this test, when it is up to date.
fn built_example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/readme-<hash> -> target/<profile>/examples/quickstart
    let dir = exe.parent()?.parent()?.join("examples");
    let bin = dir.join(format!("quickstart{}", std::env::consts::EXE_SUFFIX));
    let built = bin.metadata().ok()?.modified().ok()?;
    let newest_source =
        ["examples/quickstart.rs", "examples/common/mod.rs", "examples/common/report.rs", "src/lib.rs", "Cargo.toml"]
            .iter()
            .filter_map(|p| root().join(p).metadata().ok()?.modified().ok())
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH);
    (built >= newest_source).then_some(bin)
}

fn quickstart_command() -> Command {
    match built_example() {
        Some(bin) => Command::new(bin),
        None => {
            // Not built by this `cargo test` run (e.g. `--test readme`): the README's command.
            let mut parts = MAIN_JOB.split_whitespace().skip(1);
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(parts.by_ref());
            cmd
        }
    }
}

#[test]
fn the_quickstart_runs_on_the_embedded_server() {
    let out = quickstart_command()
        .current_dir(root())
        .env_remove("OPENINTENT_URL")
        .env_remove("OPENINTENT_API_KEY")
        .env_remove("OPENINTENT_AGENT_ID")
        .output()
        .expect("the quickstart runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{stderr}", out.status.code());

    assert!(stdout.contains("Started an embedded OpenIntent server"), "{stdout}");
    assert!(stdout.contains("Research market trends"), "{stdout}");
    assert!(stdout.contains("409 version conflict"), "{stdout}");
    assert!(stdout.contains("409 lease conflict"), "{stdout}");
    assert!(stdout.contains("Marked the intent completed"), "{stdout}");
    assert!(stdout.lines().any(|l| l.contains("status:") && l.contains("completed")), "{stdout}");

    // The event log, as a table, oldest first.
    let log_start = stdout.find("The event log").expect("the event log is printed");
    let log = &stdout[log_start..];
    let header = log.lines().nth(1).unwrap_or_default();
    assert!(header.contains("EVENT") && header.contains("ACTOR"), "{log}");
    let order: Vec<usize> =
        ["intent_created", "state_patched", "lease_acquired", "comment", "lease_released", "status_changed"]
            .iter()
            .map(|t| log.find(t).unwrap_or_else(|| panic!("{t} missing from the event log:\n{log}")))
            .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "events out of order:\n{log}");
    assert!(stdout.trim_end().ends_with("is completed."), "{stdout}");
}

/// How the examples report a failure (shared by all of them).
#[allow(dead_code)]
#[path = "../examples/common/report.rs"]
mod report;

#[tokio::test]
async fn a_failure_is_one_readable_line() {
    let client = openintent::Client::builder()
        .base_url("http://127.0.0.1:9")
        .api_key("dev-user-key")
        .agent_id("reporter")
        .no_retry()
        .build()
        .unwrap();
    let refused: Box<dyn std::error::Error> = Box::new(client.get_intent("x").await.unwrap_err());
    assert_eq!(
        report::describe(&*refused, Some("http://127.0.0.1:9")),
        "cannot reach the server at http://127.0.0.1:9: connection refused"
    );
    let without_url = report::describe(&*refused, None);
    assert!(without_url.starts_with("cannot reach the server: ") && without_url.ends_with(": connection refused"));
    // Anything else: its text, then the causes it does not already give.
    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot save")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    assert_eq!(report::describe(&Outer(std::io::Error::other("disk full")), None), "cannot save: disk full");
}

#[test]
fn the_quickstart_explains_an_unreachable_server() {
    let out = quickstart_command()
        .current_dir(root())
        .env("OPENINTENT_URL", "http://127.0.0.1:9")
        .env_remove("OPENINTENT_API_KEY")
        .env_remove("OPENINTENT_AGENT_ID")
        .output()
        .expect("the quickstart runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // The last line (`cargo run` writes its own lines first when it builds the example).
    assert_eq!(
        stderr.trim_end().lines().last(),
        Some("error: cannot reach the server at http://127.0.0.1:9: connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("Transport("), "a Debug dump: {stderr}");
}

#[test]
fn every_guide_is_compiled() {
    let lib = read("src/lib.rs");
    let mut guides: Vec<String> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md"))
        .collect();
    guides.sort();
    let rust_guides: Vec<&String> = guides.iter().filter(|g| read(&format!("docs/{g}")).contains("```rust")).collect();
    assert!(!rust_guides.is_empty());
    for g in rust_guides {
        assert!(
            lib.contains(&format!("include_str!(\"../docs/{g}\")")),
            "docs/{g} has Rust blocks but is not included as a doc test in src/lib.rs"
        );
    }
    assert!(Path::new(&root().join("README.md")).exists() && lib.contains("include_str!(\"../README.md\")"));
}
