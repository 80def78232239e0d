//! The part of the DMS service's query language the simulator understands:
//!
//! ```text
//! SELECT * | field {, field} FROM type [WHERE field = value {AND field = value}]
//! ```
//!
//! A value is a string literal in single quotes (a quote inside doubled:
//! `'O''Brien'`), a bare number, or a parameter `@name` whose value comes
//! from the request's `parameters`. Keywords are case-insensitive.
//!
//! Anything else (OR, IN, LIKE, UNION, ORDER BY, full text) is refused with
//! a message rather than guessed at: the client must not come to rely on
//! something the simulator only pretends to support.

use std::collections::BTreeMap;

/// A parsed statement with its parameters resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    pub selection: Selection,
    pub object_type: String,
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    All,
    Fields(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Name(String),
    Text(String),
    Parameter(String),
    Star,
    Comma,
    Equals,
}

pub(crate) fn parse(statement: &str, parameters: &BTreeMap<String, serde_json::Value>) -> Result<Query, String> {
    let tokens = tokenize(statement)?;
    let mut parser = Parser { tokens: &tokens, position: 0, parameters };
    let query = parser.query()?;
    match parser.next() {
        None => Ok(query),
        Some(token) => Err(format!("unsupported query: unexpected {} after the statement", describe(token))),
    }
}

fn tokenize(statement: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut characters = statement.chars().peekable();
    while let Some(&character) = characters.peek() {
        match character {
            ' ' | '\t' | '\r' | '\n' => {
                characters.next();
            }
            '*' | ',' | '=' => {
                characters.next();
                tokens.push(match character {
                    '*' => Token::Star,
                    ',' => Token::Comma,
                    _ => Token::Equals,
                });
            }
            '\'' => {
                characters.next();
                let mut text = String::new();
                loop {
                    match characters.next() {
                        Some('\'') if characters.peek() == Some(&'\'') => {
                            characters.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(other) => text.push(other),
                        None => return Err("malformed query: a string literal is not closed".to_owned()),
                    }
                }
                tokens.push(Token::Text(text));
            }
            '@' => {
                characters.next();
                let name = take_name(&mut characters);
                if name.is_empty() {
                    return Err("malformed query: @ without a parameter name".to_owned());
                }
                tokens.push(Token::Parameter(name));
            }
            _ if is_name_character(character) => tokens.push(Token::Name(take_name(&mut characters))),
            other => return Err(format!("unsupported query: unexpected character {other:?}")),
        }
    }
    Ok(tokens)
}

fn is_name_character(character: char) -> bool {
    character.is_alphanumeric() || matches!(character, '_' | ':' | '.')
}

fn take_name(characters: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut name = String::new();
    while let Some(&character) = characters.peek() {
        if !is_name_character(character) {
            break;
        }
        name.push(character);
        characters.next();
    }
    name
}

fn describe(token: &Token) -> String {
    match token {
        Token::Name(name) => format!("{name:?}"),
        Token::Text(text) => format!("string '{text}'"),
        Token::Parameter(name) => format!("parameter @{name}"),
        Token::Star => "*".to_owned(),
        Token::Comma => "\",\"".to_owned(),
        Token::Equals => "\"=\"".to_owned(),
    }
}

struct Parser<'a> {
    tokens: &'a [Token],
    position: usize,
    parameters: &'a BTreeMap<String, serde_json::Value>,
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> Option<&'a Token> {
        let tokens: &'a [Token] = self.tokens;
        let token = tokens.get(self.position);
        self.position += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), String> {
        match self.next() {
            Some(Token::Name(name)) if name.eq_ignore_ascii_case(keyword) => Ok(()),
            Some(token) => Err(format!("unsupported query: expected {keyword}, found {}", describe(token))),
            None => Err(format!("unsupported query: expected {keyword}, found the end")),
        }
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Name(name)) if name.eq_ignore_ascii_case(keyword))
    }

    fn name(&mut self, what: &str) -> Result<String, String> {
        match self.next() {
            Some(Token::Name(name)) if !is_reserved(name) => Ok(name.clone()),
            Some(token) => Err(format!("unsupported query: expected {what}, found {}", describe(token))),
            None => Err(format!("unsupported query: expected {what}, found the end")),
        }
    }

    fn query(&mut self) -> Result<Query, String> {
        self.keyword("SELECT")?;
        let selection = if self.peek() == Some(&Token::Star) {
            self.next();
            Selection::All
        } else {
            let mut fields = vec![self.name("a field name or *")?];
            while self.peek() == Some(&Token::Comma) {
                self.next();
                fields.push(self.name("a field name")?);
            }
            Selection::Fields(fields)
        };
        self.keyword("FROM")?;
        let object_type = self.name("an object type")?;
        let mut conditions = Vec::new();
        if self.is_keyword("WHERE") {
            self.next();
            conditions.push(self.condition()?);
            while self.is_keyword("AND") {
                self.next();
                conditions.push(self.condition()?);
            }
        }
        Ok(Query { selection, object_type, conditions })
    }

    fn condition(&mut self) -> Result<Condition, String> {
        let field = self.name("a field name")?;
        match self.next() {
            Some(Token::Equals) => {}
            Some(token) => {
                return Err(format!("unsupported query: only field = value is understood, found {}", describe(token)));
            }
            None => return Err("unsupported query: a condition ends after its field".to_owned()),
        }
        let value = match self.next() {
            Some(Token::Text(text)) => text.clone(),
            Some(Token::Name(number)) if number.chars().all(|character| character.is_ascii_digit()) => number.clone(),
            Some(Token::Parameter(name)) => match self.parameters.get(name) {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(serde_json::Value::Number(number)) => number.to_string(),
                Some(other) => return Err(format!("parameter @{name} must be a string or a number, not {other}")),
                None => return Err(format!("parameter @{name} is not given")),
            },
            Some(token) => return Err(format!("unsupported query: expected a value, found {}", describe(token))),
            None => return Err("unsupported query: a condition has no value".to_owned()),
        };
        Ok(Condition { field, value })
    }
}

fn is_reserved(name: &str) -> bool {
    ["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "UNION", "ORDER", "BY"]
        .iter()
        .any(|keyword| name.eq_ignore_ascii_case(keyword))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(statement: &str) -> Result<Query, String> {
        let parameters = BTreeMap::from([
            ("ext".to_owned(), serde_json::json!("SCAN-1")),
            ("folder".to_owned(), serde_json::json!(17)),
        ]);
        parse(statement, &parameters)
    }

    fn condition(field: &str, value: &str) -> Condition {
        Condition { field: field.to_owned(), value: value.to_owned() }
    }

    #[test]
    fn the_client_statements_parse() {
        let query = check("SELECT system:objectId FROM Dokument WHERE ExtId = @ext").unwrap();
        assert_eq!(query.selection, Selection::Fields(vec!["system:objectId".to_owned()]));
        assert_eq!(query.object_type, "Dokument");
        assert_eq!(query.conditions, [condition("ExtId", "SCAN-1")]);

        let query = check("select * from Register where system:SDSTA_ID=@folder and Name = 'O''Brien, Anna'").unwrap();
        assert_eq!(query.selection, Selection::All);
        assert_eq!(query.conditions, [condition("system:SDSTA_ID", "17"), condition("Name", "O'Brien, Anna")]);

        let query = check("SELECT a, b FROM Akte WHERE system:objectId = 5").unwrap();
        assert_eq!(query.conditions, [condition("system:objectId", "5")]);
        assert_eq!(check("SELECT system:objectId FROM Akte").unwrap().conditions, []);
    }

    #[test]
    fn what_is_not_understood_is_refused_with_a_reason() {
        let cases = [
            ("SELECT * FROM A WHERE x = 'open", "malformed query: a string literal is not closed"),
            ("SELECT * FROM A WHERE x = @missing", "parameter @missing is not given"),
            ("SELECT * FROM A WHERE x = 1 OR y = 2", "unsupported query: unexpected \"OR\" after the statement"),
            (
                "SELECT * FROM A WHERE x LIKE 'a%'",
                "unsupported query: only field = value is understood, found \"LIKE\"",
            ),
            ("SELECT * FROM A WHERE x IN (1)", "unsupported query: unexpected character '('"),
            ("SELECT * FROM A UNION SELECT * FROM B", "unsupported query: unexpected \"UNION\" after the statement"),
            ("SELECT FROM A", "unsupported query: expected a field name or *, found \"FROM\""),
            ("SELECT * FROM A WHERE x = y", "unsupported query: expected a value, found \"y\""),
            ("SELECT * FROM A; DROP", "unsupported query: unexpected character ';'"),
            ("", "unsupported query: expected SELECT, found the end"),
        ];
        for (statement, expected) in cases {
            assert_eq!(check(statement).unwrap_err(), expected, "{statement}");
        }
    }
}
