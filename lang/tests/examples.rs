//! Runs every program in examples/scheme/ through the `gc-scheme` binary and compares its
//! output with the `.out` file next to it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scheme")
}

fn run_example(name: &str) {
    let dir = examples_dir();
    let script = dir.join(format!("{name}.scm"));
    let expected = std::fs::read_to_string(dir.join(format!("{name}.out")))
        .unwrap_or_else(|e| panic!("reading {name}.out: {e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_gc-scheme"))
        .arg(&script)
        .output()
        .expect("running gc-scheme");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{name} failed: {stderr}");
    assert!(stderr.is_empty(), "{name} wrote to stderr: {stderr}");
    assert_eq!(stdout, expected, "{name}: output differs from {name}.out");
}

#[test]
fn binary_trees() {
    run_example("binary_trees");
}

#[test]
fn memory_model() {
    run_example("memory_model");
}

#[test]
fn doubly_linked_list() {
    run_example("doubly_linked_list");
}

#[test]
fn graph_cycles() {
    run_example("graph_cycles");
}

#[test]
fn closures_loop() {
    run_example("closures_loop");
}

#[test]
fn every_example_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/scheme")
        .filter_map(|e| {
            let p = e.ok()?.path();
            if p.extension()? != "scm" {
                return None;
            }
            Some(p.file_stem()?.to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "binary_trees",
            "closures_loop",
            "doubly_linked_list",
            "graph_cycles",
            "memory_model"
        ]
    );
}

#[test]
fn binary_trees_matches_cpython_output_format() {
    // The .py twin prints the same text (checked only when python3 is installed).
    let Ok(py) = Command::new("python3")
        .arg(examples_dir().join("binary_trees.py"))
        .output()
    else {
        return;
    };
    if !py.status.success() {
        return;
    }
    let expected = std::fs::read_to_string(examples_dir().join("binary_trees.out")).unwrap();
    assert_eq!(String::from_utf8_lossy(&py.stdout), expected);
}
