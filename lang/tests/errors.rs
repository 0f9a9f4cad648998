//! Errors in user programs are clean `line N: message` diagnostics on stderr with exit
//! code 1, never a Rust panic.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run_script(name: &str, src: &str) -> Output {
    let dir = std::env::temp_dir().join(format!("gc-lang-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.scm"));
    std::fs::write(&path, src).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gc-scheme"))
        .arg(&path)
        .output()
        .expect("running gc-scheme");
    let _ = std::fs::remove_file(&path);
    out
}

fn run_stdin(src: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gc-scheme"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running gc-scheme");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(src.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts a failed run whose stderr is exactly one `line N: ...` diagnostic containing
/// `needle`, and returns stdout.
fn expect_error(out: &Output, line: usize, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "a Rust panic: {stderr}");
    let prefix = format!("line {line}: ");
    assert!(
        stderr.starts_with(&prefix) && stderr.contains(needle),
        "expected `{prefix}...{needle}...`, got: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn unbound_variable() {
    let out = run_script(
        "unbound",
        "(display 1)\n(newline)\n\n(display (+ 1 nope))\n",
    );
    let stdout = expect_error(&out, 4, "unbound variable: nope");
    assert_eq!(stdout, "1\n", "output before the error is kept");
}

#[test]
fn not_a_procedure() {
    expect_error(
        &run_script("notproc", "(define x 5)\n(x 1)\n"),
        2,
        "not a procedure: 5",
    );
}

#[test]
fn wrong_argument_count() {
    let src = "(define (f a b) a)\n(f 1)\n";
    expect_error(
        &run_script("arity", src),
        2,
        "f: expected 2 argument(s), got 1",
    );
    expect_error(&run_script("arity2", "(car 1 2)"), 1, "car: expected 1");
}

#[test]
fn type_errors_in_builtins() {
    expect_error(
        &run_script("car", "\n(car 5)"),
        2,
        "car: expected a pair, got 5",
    );
    expect_error(
        &run_script("plus", "(+ 1 \"a\")"),
        1,
        "+: expected an integer",
    );
    expect_error(&run_script("div", "(quotient 1 0)"), 1, "division by zero");
    expect_error(
        &run_script("overflow", "(* 4611686018427387904 4)"),
        1,
        "integer overflow",
    );
    expect_error(
        &run_script("vec", "(vector-ref (vector 1) 3)"),
        1,
        "out of range",
    );
}

#[test]
fn error_inside_a_procedure_reports_the_failing_line() {
    let src = "(define (f x)\n  (g x))\n(define (g y)\n  (car y))\n(f 7)\n";
    expect_error(&run_script("nested", src), 4, "car: expected a pair");
}

#[test]
fn user_error_builtin() {
    let out = run_script("usererr", "(error \"bad thing:\" 42 'x \"s\")");
    expect_error(&out, 1, "bad thing: 42 x \"s\"");
}

#[test]
fn syntax_errors() {
    expect_error(
        &run_script("unclosed", "(display 1)\n(define (f x)\n  (+ x 1)\n"),
        2,
        "unclosed",
    );
    expect_error(&run_script("extra", "(display 1))"), 1, "unexpected ')'");
    expect_error(&run_script("iflen", "\n\n(if)"), 3, "bad syntax: (if");
    expect_error(
        &run_script("lam", "(lambda (1) 1)"),
        1,
        "parameter must be a symbol",
    );
    expect_error(
        &run_script("defexpr", "(if #t (define x 1) 2)"),
        1,
        "define is only allowed",
    );
    expect_error(
        &run_script("qq", "`(1 ,x)"),
        1,
        "quasiquote is not supported",
    );
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let src = "(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))\n(display (deep 100))\n(newline)\n(deep 1000000)\n";
    let out = run_script("deep", src);
    let stdout = expect_error(&out, 1, "recursion too deep (more than 10000 nested calls)");
    assert_eq!(stdout, "100\n");
}

#[test]
fn recursion_limit_is_configurable() {
    let src = "(set-recursion-limit! 50)\n(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1)))))\n(display (deep 40))\n(deep 60)\n";
    let out = run_script("limit", src);
    assert_eq!(expect_error(&out, 2, "more than 50 nested calls"), "40");
    let out = Command::new(env!("CARGO_BIN_EXE_gc-scheme"))
        .args(["--max-depth", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn tail_calls_do_not_count_as_depth() {
    let src = "(define (count n acc) (if (= n 0) acc (count (- n 1) (+ acc 1))))\n(display (count 50000 0))";
    let out = run_script("tail", src);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "50000");
}

#[test]
fn failing_finalizer_does_not_crash_the_interpreter() {
    let src = "\
(define-record-type box (make-box v) box? (v box-v))
(define b (make-box 1))
(set-finalizer! b (lambda () (display \"finalizer runs\") (newline) (car 1)))
(set! b #f)
(display \"after\")
(newline)
(define c (make-box 2))
(set-finalizer! c (lambda () (display \"second finalizer ok\") (newline)))
(set! c #f)
";
    let out = run_script("finalizer", src);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "finalizer runs\nafter\nsecond finalizer ok\n"
    );
    assert!(
        stderr.starts_with("line 3: in finalizer: car: expected a pair"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn finalizer_runs_once_for_a_collected_cycle() {
    let src = "\
(define-record-type cell (make-cell v) cell? (v cell-v set-cell-v!))
(define n 0)
(define a (make-cell #f))
(set-cell-v! a a)
(set-finalizer! a (lambda () (set! n (+ n 1))))
(set! a #f)
(gc-collect)
(gc-collect)
(display n)
";
    let out = run_script("fin_once", src);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1");
}

#[test]
fn a_finalizer_of_one_argument_gets_its_record() {
    let src = "\
(define-record-type cell (make-cell v) cell? (v cell-v set-cell-v!))
(define saved #f)
(define a (make-cell 42))
(set-cell-v! a a)
(set-finalizer! a (lambda (self) (set! saved self)))
(set! a #f)
(gc-collect)
(display (cell? saved))
(display \" \")
(display (eq? (cell-v saved) saved))
(set! saved #f)
(display \" \")
(display (gc-collect))
";
    let out = run_script("fin_self", src);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    // The record came back (resurrected through its finalizer), intact; once let go it is
    // freed by the next collection without a second finalizer call.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "#t #t 1");
}

#[test]
fn missing_script_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_gc-scheme"))
        .arg("/nonexistent/x.scm")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: cannot read"));
}

#[test]
fn repl_prints_values_and_keeps_going_after_errors() {
    let out = run_stdin("(define x 2)\n(* x\n   21)\n(car '())\n(+ x 1)\n\"s\"\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n3\n\"s\"\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("line 4: car: expected a pair"),
        "{stderr}"
    );
}

#[test]
fn repl_clean_session_exits_zero() {
    let out = run_stdin("(define (sq x) (* x x))\n(sq 12)\n(display \"hi\")\n");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "144\nhi");
}

#[test]
fn in_process_errors_carry_lines() {
    let (e, out) = gc_lang::run_to_string("(display 1)\n(vector-ref 5 0)").unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(out, "1");
    assert_eq!(
        e.to_string(),
        "line 2: vector-ref: expected a vector, got 5"
    );
}
