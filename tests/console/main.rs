//! The console in a real browser: Debian's `chromium`, headless, driven through
//! `chromium-driver` (WebDriver, plus DevTools for what WebDriver cannot do: typing a raw GS
//! byte, taking the network away, phone-sized screens), against the real app and database.
//!
//! The browser is required: without `/usr/bin/chromium` and `/usr/bin/chromedriver` these tests
//! fail (`.ci/test` installs both). Every page visited is saved as a screenshot at 1280×800 and
//! 360×740 under `target/console-screenshots/`.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

#[allow(dead_code)]
#[path = "../api/fixtures.rs"]
mod fixtures;

mod pages;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use thirtyfour::prelude::*;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One headless Chromium with its own driver and profile.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    profile: PathBuf,
    base: String,
}

impl Browser {
    pub async fn start(base: &str) -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(binary).exists(),
                "{binary} is missing: the browser tests need Debian's chromium and chromium-driver \
                 (`bash .ci/test` installs them)"
            );
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            listener.local_addr().expect("addr").port()
        };
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!(
            "holdfast-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).expect("binary");
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--lang=en-US",
            "--window-size=1280,800",
        ] {
            caps.add_arg(arg).expect("arg");
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.display()))
            .expect("arg");
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
            .await
            .expect("a Chromium session");
        Browser {
            driver,
            chromedriver,
            profile,
            base: base.to_owned(),
        }
    }

    pub async fn open(&self, path: &str) {
        self.driver
            .goto(format!("{}{}", self.base, path))
            .await
            .expect("open");
    }

    pub async fn path(&self) -> String {
        let url = self.driver.current_url().await.expect("url");
        let mut path = url.path().to_owned();
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        path
    }

    /// The text of the first element `css` finds, waiting (up to 15 s) for one to appear: after a
    /// click that submits a form, the next page may still be loading.
    pub async fn text(&self, css: &str) -> String {
        self.wait_text(css, |_| true).await
    }

    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.expect("click");
    }

    /// The first element `css` finds, waiting (up to 15 s) for one to appear.
    pub async fn element(&self, css: &str) -> WebElement {
        for _ in 0..150 {
            if let Ok(element) = self.driver.find(By::Css(css)).await {
                return element;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element {css} at {}", self.path().await)
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Signs in through the form and answers where it landed.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        self.open("/login").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        self.wait_for(
            |path: String| !path.starts_with("/login"),
            "leave the sign-in page",
        )
        .await
    }

    pub async fn sign_out(&self) {
        self.click("form[action='/logout'] button").await;
        self.wait_for(
            |path: String| path.starts_with("/login"),
            "the sign-in page",
        )
        .await;
    }

    /// Waits (up to 15 s) until the current path satisfies `done`.
    pub async fn wait_for(&self, done: impl Fn(String) -> bool, what: &str) -> String {
        for _ in 0..150 {
            let path = self.path().await;
            if done(path.clone()) {
                return path;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting for {what}: at {}", self.path().await);
    }

    /// Waits (up to 15 s) until the element's text satisfies `done`; answers the text.
    pub async fn wait_text(&self, css: &str, done: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        for _ in 0..150 {
            if let Ok(element) = self.driver.find(By::Css(css)).await {
                last = element.text().await.unwrap_or_default();
                if done(&last) {
                    return last;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting on {css}: last text {last:?}");
    }

    /// Scrolls the first element `css` finds to the top of the view (for a screenshot of it).
    pub async fn scroll_to(&self, css: &str) {
        let element = self.element(css).await;
        self.driver
            .execute(
                "arguments[0].scrollIntoView({block: 'start'});",
                vec![element.to_json().expect("element")],
            )
            .await
            .expect("scroll");
    }

    /// Saves the page at desktop (1280×800) and phone (360×740) size.
    pub async fn shoot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let cdp = self.driver.cdp();
        for (width, height, size) in [(1280, 800, "desktop"), (360, 740, "phone")] {
            cdp.emulation()
                .set_device_metrics_override(width, height, 1.0, width < 600)
                .await
                .expect("metrics");
            tokio::time::sleep(Duration::from_millis(150)).await;
            // Nothing sticks out sideways: a phone would zoom the whole page out to show it.
            let wide = self
                .driver
                .execute("return document.documentElement.scrollWidth;", vec![])
                .await
                .expect("scroll width")
                .convert::<u32>()
                .expect("a width");
            assert!(wide <= width, "{name} is {wide} px wide at {width} px");
            self.driver
                .screenshot(&dir.join(format!("{name}-{size}.png")))
                .await
                .expect("screenshot");
        }
        cdp.emulation()
            .clear_device_metrics_override()
            .await
            .expect("metrics");
    }

    pub async fn close(mut self) {
        let driver = self.driver.clone();
        driver.quit().await.expect("quit");
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}
