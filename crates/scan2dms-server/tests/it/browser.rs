//! Staff in a real browser: headless Chromium, driven through chromedriver
//! (WebDriver over HTTP), logs in with a staff token, finds a processed
//! batch from the overview and opens it, then opens the review page, sees
//! the page thumbnails and decides a document's type. Screenshots of the
//! pages go to `target/scan2dms-dashboard-*.png` for people to look at.
//!
//! Skipped, with a message, where chromium or chromedriver is missing
//! (`apt-get install chromium chromium-driver`, or scripts/setup.sh).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use scan2dms_core::Stage;
use scan2dms_store::StateStore;
use serde_json::{Value, json};

use crate::review::{IN_REVIEW, REVIEW_BATCH, review_batch};
use crate::{Env, RunningServer, fixtures, import_orders, run_pipeline, tar_of};

/// WebDriver's key for element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|path| path.is_file())
}

/// chromedriver on a free local port, ended when dropped.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Driver {
    fn start(chromedriver: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // It says so on stdout once it listens.
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let started = lines.by_ref().take(20).map_while(Result::ok).any(|line| line.contains("started successfully"));
        assert!(started, "chromedriver did not start");
        std::thread::spawn(move || lines.for_each(drop));
        let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(120)).build().unwrap();
        Driver { child, url: format!("http://127.0.0.1:{port}"), http }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().unwrap().json().unwrap();
        assert!(response["value"].get("error").is_none(), "{method} {path}: {response}");
        response["value"].clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
}

impl<'a> Browser<'a> {
    fn open(driver: &'a Driver, chromium: &Path) -> Browser<'a> {
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1700", "--lang=de-DE"],
            },
            // A click that submits a form may return before the next page is
            // there; looking for an element of that page waits for it.
            "timeouts": { "implicit": 20000 },
        } } });
        let value = driver.call(reqwest::Method::POST, "/session", Some(capabilities));
        Browser { driver, session: value["sessionId"].as_str().unwrap().to_owned() }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.driver.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// The first element `css` matches, waiting for it to appear (the
    /// session's implicit wait).
    fn find(&self, css: &str) -> String {
        let value =
            self.call(reqwest::Method::POST, "/element", Some(json!({ "using": "css selector", "value": css })));
        value[ELEMENT].as_str().unwrap().to_owned()
    }

    fn type_into(&self, element: &str, text: &str) {
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({ "text": text })));
    }

    fn click(&self, element: &str) {
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({})));
    }

    /// Runs a script in the page and returns what it returns (awaited, when
    /// that is a promise).
    fn execute(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] })))
    }

    fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None).as_str().unwrap().to_owned()
    }

    fn screenshot(&self, path: &Path) {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self.driver.http.delete(format!("{}/session/{}", self.driver.url, self.session)).send();
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

#[test]
fn staff_log_in_in_chromium_find_a_processed_batch_and_decide_a_review() {
    let (Some(chromedriver), Some(chromium)) = (find_program("chromedriver"), find_program("chromium")) else {
        eprintln!("skipped: chromium and chromedriver are needed (apt-get install chromium chromium-driver)");
        return;
    };
    let env = Env::new();
    import_orders(&*env.store);
    let server = RunningServer::start(env.state.clone());
    let http = reqwest::blocking::Client::new();
    let upload = http
        .post(format!("{}/api/batches?name=SSN-0007-001.tar", server.base_url))
        .bearer_auth(&env.contractor)
        .body(tar_of("SSN-0007-001"))
        .send()
        .unwrap();
    assert_eq!(upload.status().as_u16(), 201);
    // A rejected delivery from the inbox folder, for the rejections table.
    let rejected = fixtures().join("batches/SSN-0007-003");
    let copy = Command::new("cp").arg("-r").arg(&rejected).arg(env.inbox()).status().unwrap();
    assert!(copy.success());
    let summary = run_pipeline(&env, &[Stage::Validate, Stage::Ocr, Stage::Efile]);
    assert_eq!((summary.accepted, summary.rejected, summary.failed), (1, 1, 0), "{summary:?}");

    let driver = Driver::start(&chromedriver);
    let browser = Browser::open(&driver, &chromium);
    browser.go(&format!("{}/", server.base_url));
    assert!(browser.source().contains("Anmeldung für Mitarbeitende"), "the login form first");
    let token_field = browser.find("#token");
    browser.type_into(&token_field, &env.staff);
    let login = browser.find("#login");
    browser.click(&login);
    browser.find("header nav");

    let overview = browser.source();
    assert!(overview.contains("Fortschritt je Serie und Auftrag"), "{overview}");
    assert!(overview.contains("Abgelehnte Lieferungen") && overview.contains("SSN-0007-003"), "{overview}");
    let screenshots = target_dir();
    std::fs::create_dir_all(&screenshots).unwrap();
    browser.screenshot(&screenshots.join("scan2dms-dashboard-overview.png"));

    let link = browser.find("a[href=\"/batches/SSN-0007-001\"]");
    browser.click(&link);
    browser.find("table.events");
    let batch = browser.source();
    for expected in ["Stapel SSN-0007-001", "Ereignisprotokoll", "E-Akte erstellt", "Scan GmbH", "efiles_done"] {
        assert!(batch.contains(expected), "{expected} missing in\n{batch}");
    }
    browser.screenshot(&screenshots.join("scan2dms-dashboard-batch.png"));

    // A document the classifier was unsure of, with real page images.
    review_batch(&env, REVIEW_BATCH);
    let review_link = browser.find("header nav a[href=\"/review\"]");
    browser.click(&review_link);
    browser.find("article.review");
    let review = browser.source();
    for expected in ["Prüfung der Dokumenttypen", "Akte PN-957380 · Dokument 1", "Beurteilung", "Konfidenz 41,0 %"] {
        assert!(review.contains(expected), "{expected} missing in\n{review}");
    }
    // Every thumbnail arrived and is a picture 300 pixels wide, the second
    // page turned upright.
    let images = browser.execute(
        "const loaded = image => image.complete || new Promise(done => { image.onload = image.onerror = done; });
         return Promise.all(Array.from(document.images).map(loaded)).then(() =>
             Array.from(document.images).map(image => [image.complete, image.naturalWidth, image.naturalHeight]));",
    );
    assert_eq!(images, json!([[true, 300, 424], [true, 300, 212]]), "{review}");
    browser.screenshot(&screenshots.join("scan2dms-dashboard-review.png"));

    let form = format!("form[action=\"/review/{IN_REVIEW}\"]");
    let zeugnis = browser.find(&format!("{form} option[value=\"zeugnis\"]"));
    browser.click(&zeugnis);
    let decide = browser.find(&format!("{form} button"));
    browser.click(&decide);
    browser.find("#review-empty");
    let after = browser.source();
    assert!(after.contains(&format!("Entschieden: Dokument {IN_REVIEW} ist Zeugnis.")), "{after}");
    assert!(after.contains("Keine Dokumente warten auf Prüfung."), "{after}");

    assert!(env.store.review_queue().unwrap().is_empty(), "the decision reached the store");
    let decided = env.store.documents(Some(REVIEW_BATCH)).unwrap().remove(0);
    let decision = decided.review.unwrap();
    assert_eq!(decision.doc_type, "zeugnis");
    assert_eq!(decision.decided_by, "staff:Archiv der Stadt");
    eprintln!("screenshots: {}", screenshots.join("scan2dms-dashboard-{overview,batch,review}.png").display());
}
