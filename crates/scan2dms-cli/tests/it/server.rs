//! `users add` and `serve`: a token made on the command line opens the API.

use std::io::{BufRead, Read, Write};
use std::process::Stdio;

use crate::{run_ok, scan2dms};

#[test]
fn users_add_prints_the_token_alone_and_serve_accepts_it() {
    let data = tempfile::tempdir().unwrap();
    let output = run_ok(scan2dms(data.path()).args(["users", "add", "--name", "Scan GmbH", "--role", "contractor"]));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.strip_suffix('\n').unwrap();
    assert!(!token.contains('\n') && !token.contains(' '), "the token alone on stdout: {stdout:?}");
    let (id, secret) = token.split_once('.').unwrap();
    assert!(id.len() == 16 && id.bytes().all(|byte| byte.is_ascii_hexdigit()), "{token}");
    assert!(secret.len() >= 40, "{token}");
    let again =
        scan2dms(data.path()).args(["users", "add", "--name", "Scan GmbH", "--role", "staff"]).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "a name is taken once");
    assert!(again.stdout.is_empty());
    let list = run_ok(scan2dms(data.path()).args(["users", "list"]));
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("contractor") && list.contains("Scan GmbH") && !list.contains(secret), "{list}");

    let mut server = scan2dms(data.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let address = first_line.trim().strip_prefix("http://").unwrap().to_owned();
    let get = |authorization: &str| -> String {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(stream, "GET /api/batches HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let with_token = get(&format!("Authorization: Bearer {token}\r\n"));
    let without = get("");
    let _ = server.kill();
    let _ = server.wait();
    assert!(with_token.starts_with("HTTP/1.1 200"), "{with_token}");
    assert!(with_token.ends_with("[]"), "{with_token}");
    assert!(without.starts_with("HTTP/1.1 401"), "{without}");
}
