//! `gc-scheme`: run a script (`gc-scheme [--max-depth N] script.scm [args...]`) or, with no
//! script, a REPL on stdin. Diagnostics go to stderr as `line N: message`; the exit code is
//! 1 after an error.

use gc_lang::reader::Reader;
use gc_lang::{Error, Interp, MAX_DEPTH_LIMIT, Value, run_on_big_stack};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: gc-scheme [--max-depth N] [script.scm [args...]]\n\
                     With no script, reads expressions from stdin (a REPL).";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut max_depth = gc_lang::interp::DEFAULT_MAX_DEPTH;
    while let Some(first) = args.first() {
        match first.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--max-depth" => {
                let parsed = args.get(1).and_then(|s| s.parse::<usize>().ok());
                match parsed {
                    Some(n) if (1..=MAX_DEPTH_LIMIT).contains(&n) => max_depth = n,
                    _ => {
                        eprintln!("error: --max-depth needs a number in 1..={MAX_DEPTH_LIMIT}");
                        return ExitCode::from(2);
                    }
                }
                args.drain(..2);
            }
            _ => break,
        }
    }
    let ok = run_on_big_stack(move || {
        if args.is_empty() {
            repl(max_depth)
        } else {
            let path = args.remove(0);
            script(&path, args, max_depth)
        }
    });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn stdout_interp(args: Vec<String>, max_depth: usize) -> Interp {
    let out = std::io::BufWriter::new(std::io::stdout());
    let interp = Interp::new(Box::new(out), args);
    interp.set_max_depth(max_depth);
    interp.set_stack_budget(gc_lang::BIG_STACK_BUDGET);
    interp
}

fn script(path: &str, args: Vec<String>, max_depth: usize) -> bool {
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return false;
        }
    };
    let interp = stdout_interp(args, max_depth);
    let r = interp.run_source(&src);
    interp.flush();
    match r {
        Ok(_) => true,
        Err(e) => {
            report(&e);
            false
        }
    }
}

fn report(e: &Error) {
    eprintln!("{e}");
}

fn repl(max_depth: usize) -> bool {
    let interactive = std::io::stdin().is_terminal();
    let interp = stdout_interp(Vec::new(), max_depth);
    let mut ok = true;
    let mut pending = String::new();
    let mut pending_line = 1;
    let mut next_line = 1;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("{}", if pending.is_empty() { "> " } else { "  " });
            let _ = std::io::stdout().flush();
        }
        let line = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                eprintln!("error: cannot read stdin: {e}");
                ok = false;
                break;
            }
            None => break,
        };
        if pending.is_empty() {
            pending_line = next_line;
        }
        next_line += 1;
        pending.push_str(&line);
        pending.push('\n');
        // Read every complete datum; keep reading lines while one is unfinished.
        let mut reader = Reader::new(&pending, pending_line);
        let mut data = Vec::new();
        let mut failed = None;
        loop {
            match reader.next_datum() {
                Ok(Some(d)) => data.push(d),
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            Some(e) if e.incomplete => continue,
            Some(e) => {
                interp.flush();
                report(&e);
                ok = false;
            }
            None => {
                for d in &data {
                    match interp.run_datum(d) {
                        Ok(Value::Void) => {}
                        Ok(v) => {
                            let _ = interp.write_out(&format!("{}\n", v.to_text(true)));
                        }
                        Err(e) => {
                            interp.flush();
                            report(&e);
                            ok = false;
                        }
                    }
                }
            }
        }
        pending.clear();
        interp.flush();
    }
    if !pending.trim().is_empty() {
        eprintln!("line {pending_line}: unexpected end of input");
        ok = false;
    }
    interp.flush();
    ok
}
