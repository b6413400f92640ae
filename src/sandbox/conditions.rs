//! The ConnectWise `conditions=` and `orderBy=` languages: parsed once per request, evaluated on
//! typed records with SQL Server semantics (case-insensitive, trailing spaces ignored, NULL logic).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

/// What kind of value a field holds, so literals are checked when the condition is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    Text,
    Integer,
    Boolean,
    Date,
}

/// One field's value on one record; `Null` when the record has no such value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FieldValue<'a> {
    Null,
    Text(&'a str),
    Integer(i64),
    Boolean(bool),
    Date(DateTime<Utc>),
}

/// A record type the sandbox can filter and sort: it names its fields and reads them.
pub(crate) trait Filterable {
    type Field: Copy + std::fmt::Debug;
    /// Resolves a field path (`type/name`), matched case-insensitively.
    fn resolve(path: &str) -> Option<(Self::Field, ValueKind)>;
    /// The paths `resolve` knows, for error messages.
    fn known_paths() -> &'static str;
    fn value(&self, field: Self::Field) -> FieldValue<'_>;
    fn record_id(&self) -> i64;
}

/// A `conditions` or `orderBy` text that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ConditionError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, ConditionError> {
    Err(ConditionError(message.into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Eq => ord == Ordering::Equal,
            CmpOp::Ne => ord != Ordering::Equal,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Le => ord != Ordering::Greater,
            CmpOp::Ge => ord != Ordering::Less,
        }
    }
}

/// A literal checked against its field's kind; text is kept folded (lower case, no trailing
/// spaces) because that is how SQL Server's default collation compares.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Text(String),
    Integer(i64),
    Boolean(bool),
    Date(DateTime<Utc>),
}

#[derive(Debug, Clone)]
enum Expr<F> {
    And(Box<Expr<F>>, Box<Expr<F>>),
    Or(Box<Expr<F>>, Box<Expr<F>>),
    Not(Box<Expr<F>>),
    Compare {
        field: F,
        op: CmpOp,
        value: Literal,
    },
    In {
        field: F,
        values: Vec<Literal>,
        negated: bool,
    },
    Like {
        field: F,
        pattern: Vec<char>,
        negated: bool,
    },
    Contains {
        field: F,
        text: String,
        negated: bool,
    },
}

/// A parsed `conditions` filter.
#[derive(Debug, Clone)]
pub(crate) struct Condition<F> {
    root: Expr<F>,
}

/// Case-folds text the way the server's collation compares it: lower case, trailing spaces gone
/// (leading spaces stay significant).
pub(crate) fn fold_text(text: &str) -> String {
    text.trim_end_matches(' ')
        .chars()
        .flat_map(char::to_lowercase)
        .collect()
}

/// Compares record text with already folded text, without allocating.
fn cmp_folded(value: &str, folded: &str) -> Ordering {
    let value = value.trim_end_matches(' ');
    if value.is_ascii() && folded.is_ascii() {
        return value
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(folded.bytes());
    }
    value
        .chars()
        .flat_map(char::to_lowercase)
        .cmp(folded.chars())
}

/// Compares two record texts under the server's collation.
pub(crate) fn cmp_text(a: &str, b: &str) -> Ordering {
    a.trim_end_matches(' ')
        .chars()
        .flat_map(char::to_lowercase)
        .cmp(b.trim_end_matches(' ').chars().flat_map(char::to_lowercase))
}

/// SQL `LIKE` with `%` (any run) and `_` (one character), case-insensitive; every character of
/// the value counts, trailing spaces included.
fn like_matches(value: &str, pattern: &[char]) -> bool {
    let text: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
    let (mut t, mut p) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((bp, bt)) = backtrack {
            p = bp + 1;
            t = bt + 1;
            backtrack = Some((bp, bt + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '%')
}

fn compare(value: FieldValue<'_>, literal: &Literal) -> Option<Ordering> {
    match (value, literal) {
        (FieldValue::Text(v), Literal::Text(l)) => Some(cmp_folded(v, l)),
        (FieldValue::Integer(v), Literal::Integer(l)) => Some(v.cmp(l)),
        (FieldValue::Boolean(v), Literal::Boolean(l)) => Some(v.cmp(l)),
        (FieldValue::Date(v), Literal::Date(l)) => Some(v.cmp(l)),
        _ => None,
    }
}

/// Kleene logic: `None` is SQL's UNKNOWN (a comparison with NULL).
fn eval<R: Filterable>(expr: &Expr<R::Field>, record: &R) -> Option<bool> {
    match expr {
        Expr::And(a, b) => match (eval(a, record), eval(b, record)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Expr::Or(a, b) => match (eval(a, record), eval(b, record)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Expr::Not(a) => eval(a, record).map(|v| !v),
        Expr::Compare { field, op, value } => {
            let actual = record.value(*field);
            match (actual, value) {
                (FieldValue::Null, Literal::Null) => Some(*op == CmpOp::Eq),
                (_, Literal::Null) => Some(*op == CmpOp::Ne),
                (FieldValue::Null, _) => None,
                (actual, value) => compare(actual, value).map(|ord| op.holds(ord)),
            }
        }
        Expr::In {
            field,
            values,
            negated,
        } => {
            let actual = record.value(*field);
            if actual == FieldValue::Null {
                return None;
            }
            let found = values
                .iter()
                .any(|v| compare(actual, v) == Some(Ordering::Equal));
            Some(found != *negated)
        }
        Expr::Like {
            field,
            pattern,
            negated,
        } => match record.value(*field) {
            FieldValue::Text(v) => Some(like_matches(v, pattern) != *negated),
            _ => None,
        },
        Expr::Contains {
            field,
            text,
            negated,
        } => match record.value(*field) {
            FieldValue::Text(v) => {
                let lower: String = v.chars().flat_map(char::to_lowercase).collect();
                Some(lower.contains(text.as_str()) != *negated)
            }
            _ => None,
        },
    }
}

impl<F: Copy + std::fmt::Debug> Condition<F> {
    /// Parses a `conditions` text; `Ok(None)` for an empty one (no filter).
    pub(crate) fn parse<R: Filterable<Field = F>>(
        input: &str,
    ) -> Result<Option<Self>, ConditionError> {
        let tokens = tokenize(input)?;
        if tokens.is_empty() {
            return Ok(None);
        }
        let mut parser = Parser::<R> {
            tokens,
            pos: 0,
            _record: std::marker::PhantomData,
        };
        let root = parser.or()?;
        if let Some(tok) = parser.tokens.get(parser.pos) {
            return err(format!(
                "conditions: unexpected {} at position {}; join comparisons with \"and\" or \"or\"",
                tok.kind.describe(),
                tok.at + 1
            ));
        }
        Ok(Some(Self { root }))
    }

    /// Whether the record is in: the condition must be TRUE (UNKNOWN leaves it out, as in SQL).
    pub(crate) fn matches<R: Filterable<Field = F>>(&self, record: &R) -> bool {
        eval(&self.root, record) == Some(true)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Word(String),
    Text(String),
    Number(i64),
    Date(DateTime<Utc>),
    Op(CmpOp),
    Open,
    Close,
    Comma,
}

impl TokenKind {
    fn describe(&self) -> String {
        match self {
            TokenKind::Word(w) => format!("\"{w}\""),
            TokenKind::Text(t) => format!("string \"{t}\""),
            TokenKind::Number(n) => format!("number {n}"),
            TokenKind::Date(d) => format!("date [{}]", d.to_rfc3339()),
            TokenKind::Op(op) => format!("operator {op:?}"),
            TokenKind::Open => "\"(\"".into(),
            TokenKind::Close => "\")\"".into(),
            TokenKind::Comma => "\",\"".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    at: usize,
}

fn tokenize(input: &str) -> Result<Vec<Token>, ConditionError> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let (kind, after) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (TokenKind::Open, i + 1),
            ')' => (TokenKind::Close, i + 1),
            ',' => (TokenKind::Comma, i + 1),
            '=' | '!' | '<' | '>' => {
                let (op, len) = operator(c, next, at)?;
                (TokenKind::Op(op), i + len)
            }
            '"' => lex_text(&chars, i)?,
            '\'' => {
                return err(format!(
                    "conditions: single quotes at position {} are not string delimiters; use double quotes (\"…\")",
                    at + 1
                ));
            }
            '[' => lex_date(&chars, i)?,
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                lex_number(&chars, i)?
            }
            c if c.is_alphabetic() || c == '_' => lex_word(&chars, i),
            other => {
                return err(format!(
                    "conditions: unexpected character '{other}' at position {}",
                    at + 1
                ));
            }
        };
        tokens.push(Token { kind, at });
        i = after;
    }
    Ok(tokens)
}

/// The comparison operator starting with `c` (followed by `next`) and its length in characters.
fn operator(c: char, next: Option<char>, at: usize) -> Result<(CmpOp, usize), ConditionError> {
    Ok(match (c, next) {
        ('=', _) => (CmpOp::Eq, 1),
        ('!', Some('=')) | ('<', Some('>')) => (CmpOp::Ne, 2),
        ('<', Some('=')) => (CmpOp::Le, 2),
        ('>', Some('=')) => (CmpOp::Ge, 2),
        ('<', _) => (CmpOp::Lt, 1),
        ('>', _) => (CmpOp::Gt, 1),
        _ => {
            return err(format!(
                "conditions: \"!\" at position {} must be followed by \"=\"",
                at + 1
            ));
        }
    })
}

/// The double-quoted string starting at `chars[start]`, and the index just past it.
fn lex_text(chars: &[(usize, char)], start: usize) -> Result<(TokenKind, usize), ConditionError> {
    let at = chars[start].0;
    let mut text = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i].1 {
            '\\' => {
                // `\"` and `\\` are the documented escapes; any other escaped character
                // stands for itself.
                if let Some((_, escaped)) = chars.get(i + 1) {
                    text.push(*escaped);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            '"' => return Ok((TokenKind::Text(text), i + 1)),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    err(format!(
        "conditions: the string starting at position {} has no closing double quote",
        at + 1
    ))
}

/// The `[date]` starting at `chars[start]`, and the index just past its `]`.
fn lex_date(chars: &[(usize, char)], start: usize) -> Result<(TokenKind, usize), ConditionError> {
    let at = chars[start].0;
    let first = start + 1;
    let mut end = first;
    while end < chars.len() && chars[end].1 != ']' {
        end += 1;
    }
    if end >= chars.len() {
        return err(format!(
            "conditions: the date starting at position {} has no closing \"]\"",
            at + 1
        ));
    }
    let text: String = chars[first..end].iter().map(|(_, c)| c).collect();
    let date = parse_date(&text).ok_or_else(|| {
        ConditionError(format!(
            "conditions: [{text}] is not a date; write dates as [2024-01-01T00:00:00Z]"
        ))
    })?;
    Ok((TokenKind::Date(date), end + 1))
}

/// The number starting at `chars[start]` (a whole one, or an error naming it), and the index
/// just past it.
fn lex_number(chars: &[(usize, char)], start: usize) -> Result<(TokenKind, usize), ConditionError> {
    let at = chars[start].0;
    let mut i = start + 1;
    while i < chars.len() && (chars[i].1.is_ascii_digit() || chars[i].1 == '.') {
        i += 1;
    }
    let text: String = chars[start..i].iter().map(|(_, c)| c).collect();
    let number = text.parse::<i64>().map_err(|_| {
        ConditionError(format!(
            "conditions: {text} at position {} is not a whole number the sandbox can compare",
            at + 1
        ))
    })?;
    Ok((TokenKind::Number(number), i))
}

/// The word (a keyword or a field path) starting at `chars[start]`, and the index just past it.
fn lex_word(chars: &[(usize, char)], start: usize) -> (TokenKind, usize) {
    let mut i = start;
    while i < chars.len()
        && (chars[i].1.is_alphanumeric() || chars[i].1 == '_' || chars[i].1 == '/')
    {
        i += 1;
    }
    let word: String = chars[start..i].iter().map(|(_, c)| c).collect();
    (TokenKind::Word(word), i)
}

fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(d.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "like", "contains", "in", "true", "false", "null",
];

struct Parser<R: Filterable> {
    tokens: Vec<Token>,
    pos: usize,
    _record: std::marker::PhantomData<R>,
}

impl<R: Filterable> Parser<R> {
    fn peek(&self) -> Option<&TokenKind> {
        self.tokens.get(self.pos).map(|t| &t.kind)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn position(&self) -> String {
        match self.tokens.get(self.pos) {
            Some(t) => format!("at position {}", t.at + 1),
            None => "at the end".into(),
        }
    }

    fn or(&mut self) -> Result<Expr<R::Field>, ConditionError> {
        let mut left = self.and()?;
        while self.peek_keyword("or") {
            self.pos += 1;
            let right = self.and()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr<R::Field>, ConditionError> {
        let mut left = self.unary()?;
        while self.peek_keyword("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr<R::Field>, ConditionError> {
        if self.peek_keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&TokenKind::Open) {
            self.pos += 1;
            let inner = self.or()?;
            if self.peek() != Some(&TokenKind::Close) {
                return err(format!(
                    "conditions: expected \")\" {} to close a parenthesis",
                    self.position()
                ));
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr<R::Field>, ConditionError> {
        let (path, at) = match self.tokens.get(self.pos) {
            Some(Token {
                kind: TokenKind::Word(w),
                at,
            }) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => (w.clone(), *at),
            Some(t) => {
                return err(format!(
                    "conditions: expected a field name at position {}, found {}",
                    t.at + 1,
                    t.kind.describe()
                ));
            }
            None => return err("conditions: expected a field name at the end"),
        };
        self.pos += 1;
        let (field, kind) = R::resolve(&path).ok_or_else(|| {
            ConditionError(format!(
                "conditions: unknown field \"{path}\" at position {}; the sandbox filters on {}",
                at + 1,
                R::known_paths()
            ))
        })?;
        let negated = if self.peek_keyword("not") {
            self.pos += 1;
            true
        } else {
            false
        };
        match self.peek().cloned() {
            Some(TokenKind::Op(op)) if !negated => {
                self.pos += 1;
                let value = self.literal(&path, kind)?;
                if value == Literal::Null && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                    return err(format!(
                        "conditions: {path} can only be compared with null using = or !="
                    ));
                }
                Ok(Expr::Compare { field, op, value })
            }
            Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case("like") => {
                self.pos += 1;
                let pattern = self.text_operand(&path, kind, "like")?;
                Ok(Expr::Like {
                    field,
                    pattern: pattern.chars().flat_map(char::to_lowercase).collect(),
                    negated,
                })
            }
            Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case("contains") => {
                self.pos += 1;
                let text = self.text_operand(&path, kind, "contains")?;
                Ok(Expr::Contains {
                    field,
                    text: text.chars().flat_map(char::to_lowercase).collect(),
                    negated,
                })
            }
            Some(TokenKind::Word(w)) if w.eq_ignore_ascii_case("in") => {
                self.pos += 1;
                if self.peek() != Some(&TokenKind::Open) {
                    return err(format!(
                        "conditions: \"in\" after {path} must be followed by a list in parentheses, such as (\"a\",\"b\")"
                    ));
                }
                self.pos += 1;
                let mut values = vec![self.literal(&path, kind)?];
                loop {
                    match self.peek() {
                        Some(TokenKind::Comma) => {
                            self.pos += 1;
                            values.push(self.literal(&path, kind)?);
                        }
                        Some(TokenKind::Close) => {
                            self.pos += 1;
                            break;
                        }
                        _ => {
                            return err(format!(
                                "conditions: expected \",\" or \")\" in the list after {path} {}",
                                self.position()
                            ));
                        }
                    }
                }
                Ok(Expr::In {
                    field,
                    values,
                    negated,
                })
            }
            _ => err(format!(
                "conditions: expected an operator (=, !=, <, >, <=, >=, like, contains, in) after {path} {}",
                self.position()
            )),
        }
    }

    fn text_operand(
        &mut self,
        path: &str,
        kind: ValueKind,
        operator: &str,
    ) -> Result<String, ConditionError> {
        if kind != ValueKind::Text {
            return err(format!(
                "conditions: \"{operator}\" needs a text field, and {path} is not text"
            ));
        }
        match self.peek().cloned() {
            Some(TokenKind::Text(t)) => {
                self.pos += 1;
                Ok(t)
            }
            _ => err(format!(
                "conditions: \"{operator}\" after {path} needs a double-quoted string {}",
                self.position()
            )),
        }
    }

    fn literal(&mut self, path: &str, kind: ValueKind) -> Result<Literal, ConditionError> {
        let Some(token) = self.tokens.get(self.pos).cloned() else {
            return err(format!(
                "conditions: expected a value for {path} at the end"
            ));
        };
        self.pos += 1;
        let mismatch = |what: &str| {
            ConditionError(format!(
                "conditions: {path} is {} but is compared with {} at position {}",
                match kind {
                    ValueKind::Text => "text (use a double-quoted string)",
                    ValueKind::Integer => "a number",
                    ValueKind::Boolean => "true or false",
                    ValueKind::Date => "a date (use [2024-01-01T00:00:00Z])",
                },
                what,
                token.at + 1
            ))
        };
        match (&token.kind, kind) {
            (TokenKind::Word(w), _) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            (TokenKind::Text(t), ValueKind::Text) => Ok(Literal::Text(fold_text(t))),
            (TokenKind::Text(t), ValueKind::Date) => parse_date(t)
                .map(Literal::Date)
                .ok_or_else(|| mismatch(&format!("\"{t}\""))),
            (TokenKind::Number(n), ValueKind::Integer) => Ok(Literal::Integer(*n)),
            (TokenKind::Word(w), ValueKind::Boolean) if w.eq_ignore_ascii_case("true") => {
                Ok(Literal::Boolean(true))
            }
            (TokenKind::Word(w), ValueKind::Boolean) if w.eq_ignore_ascii_case("false") => {
                Ok(Literal::Boolean(false))
            }
            (TokenKind::Date(d), ValueKind::Date) => Ok(Literal::Date(*d)),
            (
                TokenKind::Text(_) | TokenKind::Number(_) | TokenKind::Date(_) | TokenKind::Word(_),
                _,
            ) => Err(mismatch(&token.kind.describe())),
            (other, _) => err(format!(
                "conditions: expected a value for {path} at position {}, found {}",
                token.at + 1,
                other.describe()
            )),
        }
    }
}

/// One `orderBy` key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortKey<F> {
    field: F,
    descending: bool,
}

/// A parsed `orderBy` (`type/name asc, id desc`); ties are broken by id ascending.
#[derive(Debug, Clone)]
pub(crate) struct OrderBy<F> {
    keys: Vec<SortKey<F>>,
}

impl<F: Copy + std::fmt::Debug> OrderBy<F> {
    /// Parses an `orderBy` text; `Ok(None)` for an empty one (default order: id ascending).
    pub(crate) fn parse<R: Filterable<Field = F>>(
        input: &str,
    ) -> Result<Option<Self>, ConditionError> {
        let mut keys = Vec::new();
        for part in input.split(',') {
            let mut words = part.split_whitespace();
            let Some(path) = words.next() else {
                if input.trim().is_empty() {
                    return Ok(None);
                }
                return err("orderBy: an empty entry between commas; write field asc|desc");
            };
            let (field, _) = R::resolve(path).ok_or_else(|| {
                ConditionError(format!(
                    "orderBy: unknown field \"{path}\"; the sandbox sorts on {}",
                    R::known_paths()
                ))
            })?;
            let descending = match words.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("asc") => false,
                Some(w) if w.eq_ignore_ascii_case("desc") => true,
                Some(w) => {
                    return err(format!("orderBy: \"{w}\" after {path} must be asc or desc"));
                }
            };
            if let Some(extra) = words.next() {
                return err(format!(
                    "orderBy: unexpected \"{extra}\" after {path}; separate keys with commas"
                ));
            }
            keys.push(SortKey { field, descending });
        }
        Ok(Some(Self { keys }))
    }

    pub(crate) fn compare<R: Filterable<Field = F>>(&self, a: &R, b: &R) -> Ordering {
        for key in &self.keys {
            let ord = cmp_values(a.value(key.field), b.value(key.field));
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.record_id().cmp(&b.record_id())
    }
}

/// SQL Server order: NULL first, text under the case-insensitive collation.
fn cmp_values(a: FieldValue<'_>, b: FieldValue<'_>) -> Ordering {
    match (a, b) {
        (FieldValue::Null, FieldValue::Null) => Ordering::Equal,
        (FieldValue::Null, _) => Ordering::Less,
        (_, FieldValue::Null) => Ordering::Greater,
        (FieldValue::Text(a), FieldValue::Text(b)) => cmp_text(a, b),
        (FieldValue::Integer(a), FieldValue::Integer(b)) => a.cmp(&b),
        (FieldValue::Boolean(a), FieldValue::Boolean(b)) => a.cmp(&b),
        (FieldValue::Date(a), FieldValue::Date(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Default)]
    struct Row {
        id: i64,
        name: Option<&'static str>,
        active: bool,
        when: Option<DateTime<Utc>>,
    }

    #[derive(Debug, Clone, Copy)]
    enum RowField {
        Id,
        Name,
        Active,
        When,
    }

    impl Filterable for Row {
        type Field = RowField;
        fn resolve(path: &str) -> Option<(RowField, ValueKind)> {
            match path.to_ascii_lowercase().as_str() {
                "id" => Some((RowField::Id, ValueKind::Integer)),
                "type/name" => Some((RowField::Name, ValueKind::Text)),
                "activeflag" => Some((RowField::Active, ValueKind::Boolean)),
                "lastupdated" => Some((RowField::When, ValueKind::Date)),
                _ => None,
            }
        }
        fn known_paths() -> &'static str {
            "id, type/name, activeFlag, lastUpdated"
        }
        fn value(&self, field: RowField) -> FieldValue<'_> {
            match field {
                RowField::Id => FieldValue::Integer(self.id),
                RowField::Name => self.name.map_or(FieldValue::Null, FieldValue::Text),
                RowField::Active => FieldValue::Boolean(self.active),
                RowField::When => self.when.map_or(FieldValue::Null, FieldValue::Date),
            }
        }
        fn record_id(&self) -> i64 {
            self.id
        }
    }

    fn row(id: i64, name: Option<&'static str>) -> Row {
        Row {
            id,
            name,
            active: id % 2 == 0,
            when: None,
        }
    }

    fn names(cond: &str) -> Vec<i64> {
        let rows = [
            row(1, Some("License")),
            row(2, Some("License ")),
            row(3, Some(" License")),
            row(4, Some("LICENSE")),
            row(5, Some("Licence")),
            row(6, Some("Licenses")),
            row(7, None),
            row(8, Some("Say \"hi\"")),
            row(9, Some("back\\slash")),
        ];
        let c = Condition::parse::<Row>(cond).unwrap().unwrap();
        rows.iter()
            .filter(|r| c.matches(*r))
            .map(|r| r.id)
            .collect()
    }

    #[test]
    fn equality_ignores_case_and_trailing_spaces_but_not_leading_ones() {
        assert_eq!(names(r#"type/name="License""#), vec![1, 2, 4]);
        assert_eq!(names(r#"type/name = "license   ""#), vec![1, 2, 4]);
        assert_eq!(names(r#"type/name=" license""#), vec![3]);
    }

    #[test]
    fn not_equal_leaves_out_nulls_like_sql() {
        assert_eq!(names(r#"type/name != "License""#), vec![3, 5, 6, 8, 9]);
        assert_eq!(names("type/name = null"), vec![7]);
        assert_eq!(names("type/name != null").len(), 8);
        assert_eq!(names(r#"not type/name = "License""#), vec![3, 5, 6, 8, 9]);
    }

    #[test]
    fn like_contains_and_in() {
        assert_eq!(names(r#"type/name like "lic%""#), vec![1, 2, 4, 5, 6]);
        assert_eq!(names(r#"type/name like "%ence""#), vec![5]);
        assert_eq!(names(r#"type/name like "Licen_e""#), vec![1, 4, 5]);
        assert_eq!(names(r#"type/name contains "CENSE""#), vec![1, 2, 3, 4, 6]);
        assert_eq!(names(r#"type/name not like "lic%""#), vec![3, 8, 9]);
        assert_eq!(names(r#"type/name in ("licence","LICENSES")"#), vec![5, 6]);
        assert_eq!(
            names(r#"type/name not in ("License")"#),
            vec![3, 5, 6, 8, 9]
        );
    }

    #[test]
    fn escapes_keywords_parentheses_numbers_and_booleans() {
        assert_eq!(names(r#"type/name = "say \"HI\"""#), vec![8]);
        assert_eq!(names(r#"type/name = "back\\slash""#), vec![9]);
        assert_eq!(
            names(r#"(type/name="License" OR id >= 8) AnD activeFlag = TRUE"#),
            vec![2, 4, 8]
        );
        assert_eq!(names("id < 3 or id > 8"), vec![1, 2, 9]);
        assert_eq!(names("id<=2 and not (activeflag=false)"), vec![2]);
        assert_eq!(names("id in (1, 3, -5)"), vec![1, 3]);
    }

    #[test]
    fn dates_compare_in_brackets() {
        let d = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let rows = [
            Row {
                id: 1,
                when: d("2023-06-01T00:00:00Z"),
                ..Row::default()
            },
            Row {
                id: 2,
                when: d("2024-06-01T00:00:00Z"),
                ..Row::default()
            },
        ];
        let c = Condition::parse::<Row>("lastUpdated > [2024-01-01T00:00:00Z]")
            .unwrap()
            .unwrap();
        let ids: Vec<i64> = rows
            .iter()
            .filter(|r| c.matches(*r))
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, vec![2]);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        for bad in [
            "type/name=",
            "type/name = \"open",
            "type/name == \"x\"",
            "nosuch/field = 1",
            "id = \"one\"",
            "activeFlag = 1",
            "(id = 1",
            "id = 1 id = 2",
            "type/name like 5",
            "id in 1,2",
            "type/name = 'x'",
            "id = 1 and",
            "id ! 1",
            "type/name < null",
            "id like \"1\"",
        ] {
            let e = Condition::parse::<Row>(bad).unwrap_err();
            assert!(e.0.starts_with("conditions: "), "{bad}: {}", e.0);
        }
        assert!(Condition::parse::<Row>("   ").unwrap().is_none());
    }

    #[test]
    fn order_by_sorts_nulls_first_and_breaks_ties_by_id() {
        let rows = [
            row(3, Some("b")),
            row(1, Some("B ")),
            row(2, None),
            row(4, Some("a")),
        ];
        let o = OrderBy::parse::<Row>("type/name desc").unwrap().unwrap();
        let mut sorted: Vec<&Row> = rows.iter().collect();
        sorted.sort_by(|a, b| o.compare(*a, *b));
        assert_eq!(
            sorted.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![1, 3, 4, 2]
        );
        assert!(OrderBy::parse::<Row>("type/name sideways").is_err());
        assert!(OrderBy::parse::<Row>("bogus").is_err());
        assert!(OrderBy::parse::<Row>("").unwrap().is_none());
    }
}
