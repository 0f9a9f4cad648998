//! The reader: source text to `Datum` trees that remember their line numbers.

use crate::Error;

/// A parsed datum with the line it starts on.
#[derive(Debug, Clone)]
pub struct Datum {
    /// What it is.
    pub kind: DatumKind,
    /// 1-based source line.
    pub line: usize,
}

/// The kinds of datum.
#[derive(Debug, Clone)]
pub enum DatumKind {
    /// An integer literal.
    Int(i64),
    /// A string literal.
    Str(String),
    /// A symbol.
    Sym(String),
    /// `#t` / `#f`.
    Bool(bool),
    /// A list; the second field is the tail after a dot, if any.
    List(Vec<Datum>, Option<Box<Datum>>),
    /// A vector literal `#(...)`.
    Vector(Vec<Datum>),
}

impl Datum {
    /// The symbol's name, if the datum is a symbol.
    pub fn sym(&self) -> Option<&str> {
        match &self.kind {
            DatumKind::Sym(s) => Some(s),
            _ => None,
        }
    }
}

/// A reader over one source text.
#[derive(Debug)]
pub struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `src`; `first_line` numbers its first line.
    pub fn new(src: &'a str, first_line: usize) -> Self {
        Reader {
            src: src.as_bytes(),
            pos: 0,
            line: first_line,
        }
    }

    /// The current line.
    pub fn line(&self) -> usize {
        self.line
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) -> Result<(), Error> {
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() {
                self.bump();
            } else if c == b';' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            } else if c == b'#' && self.src.get(self.pos + 1) == Some(&b'|') {
                let start = self.line;
                self.pos += 2;
                loop {
                    match self.bump() {
                        None => return Err(Error::eof(start, "unterminated block comment")),
                        Some(b'|') if self.peek() == Some(b'#') => {
                            self.bump();
                            break;
                        }
                        _ => {}
                    }
                }
            } else {
                break;
            }
        }
        Ok(())
    }

    /// The next datum, or `None` at the end of the text.
    pub fn next_datum(&mut self) -> Result<Option<Datum>, Error> {
        self.skip_ws()?;
        if self.peek().is_none() {
            return Ok(None);
        }
        self.datum(0).map(Some)
    }

    fn datum(&mut self, depth: usize) -> Result<Datum, Error> {
        if depth > 5_000 {
            return Err(Error::new(self.line, "expression nested too deeply"));
        }
        self.skip_ws()?;
        let line = self.line;
        let Some(c) = self.peek() else {
            return Err(Error::eof(line, "unexpected end of input"));
        };
        let mk = |kind| Datum { kind, line };
        match c {
            b'(' | b'[' => {
                self.bump();
                let close = if c == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                let mut tail = None;
                loop {
                    self.skip_ws()?;
                    match self.peek() {
                        None => {
                            return Err(Error::eof(line, "unclosed parenthesis"));
                        }
                        Some(c) if c == close => {
                            self.bump();
                            break;
                        }
                        Some(b')' | b']') => {
                            return Err(Error::new(self.line, "mismatched closing bracket"));
                        }
                        Some(b'.') if self.is_delimited_dot() => {
                            self.bump();
                            if items.is_empty() {
                                return Err(Error::new(self.line, "nothing before '.'"));
                            }
                            tail = Some(Box::new(self.datum(depth + 1)?));
                            self.skip_ws()?;
                            if self.peek() != Some(close) {
                                return Err(Error::new(
                                    self.line,
                                    "expected ')' after dotted tail",
                                ));
                            }
                            self.bump();
                            break;
                        }
                        Some(_) => items.push(self.datum(depth + 1)?),
                    }
                }
                Ok(mk(DatumKind::List(items, tail)))
            }
            b')' | b']' => {
                self.bump();
                Err(Error::new(line, "unexpected ')'"))
            }
            b'\'' | b'`' | b',' => {
                self.bump();
                let name = match c {
                    b'\'' => "quote",
                    b'`' => "quasiquote",
                    _ if self.peek() == Some(b'@') => {
                        self.bump();
                        "unquote-splicing"
                    }
                    _ => "unquote",
                };
                let inner = self.datum(depth + 1)?;
                Ok(mk(DatumKind::List(
                    vec![mk(DatumKind::Sym(name.to_string())), inner],
                    None,
                )))
            }
            b'"' => {
                self.bump();
                let mut s = Vec::new();
                loop {
                    match self.bump() {
                        None => return Err(Error::eof(line, "unterminated string")),
                        Some(b'"') => break,
                        Some(b'\\') => match self.bump() {
                            Some(b'n') => s.push(b'\n'),
                            Some(b't') => s.push(b'\t'),
                            Some(b'\\') => s.push(b'\\'),
                            Some(b'"') => s.push(b'"'),
                            _ => return Err(Error::new(self.line, "bad escape in string")),
                        },
                        Some(c) => s.push(c),
                    }
                }
                let s = String::from_utf8(s)
                    .map_err(|_| Error::new(line, "string is not valid UTF-8"))?;
                Ok(mk(DatumKind::Str(s)))
            }
            b'#' if self.src.get(self.pos + 1) == Some(&b'(') => {
                self.bump();
                match self.datum(depth + 1)?.kind {
                    DatumKind::List(items, None) => Ok(mk(DatumKind::Vector(items))),
                    _ => Err(Error::new(line, "bad vector literal")),
                }
            }
            _ => {
                let start = self.pos;
                while let Some(c) = self.peek() {
                    if c.is_ascii_whitespace() || b"()[]\";'`,".contains(&c) {
                        break;
                    }
                    self.bump();
                }
                let tok = std::str::from_utf8(&self.src[start..self.pos])
                    .map_err(|_| Error::new(line, "invalid UTF-8 in source"))?;
                Ok(mk(parse_atom(tok, line)?))
            }
        }
    }

    fn is_delimited_dot(&self) -> bool {
        match self.src.get(self.pos + 1) {
            None => true,
            Some(c) => c.is_ascii_whitespace() || b"()[]".contains(c),
        }
    }
}

fn parse_atom(tok: &str, line: usize) -> Result<DatumKind, Error> {
    match tok {
        "#t" | "#true" => return Ok(DatumKind::Bool(true)),
        "#f" | "#false" => return Ok(DatumKind::Bool(false)),
        _ => {}
    }
    let digits = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return tok
            .parse::<i64>()
            .map(DatumKind::Int)
            .map_err(|_| Error::new(line, format!("integer literal out of range: {tok}")));
    }
    if tok.starts_with('#') {
        return Err(Error::new(line, format!("unknown syntax: {tok}")));
    }
    Ok(DatumKind::Sym(tok.to_string()))
}

/// Reads every datum of `src`.
pub fn read_all(src: &str) -> Result<Vec<Datum>, Error> {
    let mut r = Reader::new(src, 1);
    let mut out = Vec::new();
    while let Some(d) = r.next_datum()? {
        out.push(d);
    }
    Ok(out)
}
