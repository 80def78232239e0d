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
    // The database keeps a hash of the secret, never the secret.
    let mut stored = Vec::new();
    for file in ["state.db", "state.db-wal"] {
        stored.extend(std::fs::read(data.path().join(file)).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    assert!(!stored.windows(secret.len()).any(|window| window == secret.as_bytes()), "the secret is in the database");

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

#[test]
fn serve_speaks_https_when_given_a_certificate() {
    let data = tempfile::tempdir().unwrap();
    let (cert, key) = (data.path().join("cert.pem"), data.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=scan2dms test", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let output = run_ok(scan2dms(data.path()).args(["users", "add", "--name", "Scan GmbH", "--role", "contractor"]));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();

    let mut server = scan2dms(data.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut first_line).unwrap();
    let base = first_line.trim().to_owned();
    let address = base.strip_prefix("https://").unwrap_or_else(|| panic!("not an https address: {base}")).to_owned();
    let curl = |url: &str, authorization: Option<&str>| {
        let mut command = std::process::Command::new("curl");
        command.args(["-sS", "-w", "\n%{http_code}", "--max-time", "10", "--cacert"]).arg(&cert).arg(url);
        if let Some(token) = authorization {
            command.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        command.output().unwrap()
    };
    let with_token = curl(&format!("{base}/api/batches"), Some(&token));
    let without = curl(&format!("{base}/api/batches"), None);
    let plain = curl(&format!("http://{address}/api/batches"), Some(&token));
    let _ = server.kill();
    let _ = server.wait();
    let with_token = String::from_utf8_lossy(&with_token.stdout).into_owned();
    assert!(with_token.ends_with("[]\n200"), "{with_token}");
    assert!(String::from_utf8_lossy(&without.stdout).ends_with("401"), "{without:?}");
    // Plain HTTP on the HTTPS port gets no answer at all.
    assert!(!plain.status.success(), "{plain:?}");
    assert!(String::from_utf8_lossy(&plain.stdout).ends_with("000"), "{plain:?}");
}

#[test]
fn serve_names_a_missing_or_mismatched_certificate() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("absent.pem");
    let output = scan2dms(data.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&missing)
        .arg("--tls-key")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TLS certificate") && stderr.contains("absent.pem"), "{stderr}");
    let alone = scan2dms(data.path()).args(["serve", "--tls-cert"]).arg(&missing).output().unwrap();
    assert!(!alone.status.success() && String::from_utf8_lossy(&alone.stderr).contains("--tls-key"), "{alone:?}");
}
