// The web page in a real browser, as a citizen and as an operator. Started by
// tests/it/web.rs with: BASE_URL OPERATOR_TOKEN SCREENSHOT_DIR FAILURE_TEXT
// (the start of the message a failed row shows). Each step
// asserts what a person would see; any failure exits non-zero with its reason.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const [base, token, shots, failureText] = process.argv.slice(2);
const deadline = { timeout: 60_000 };
const shot = (page, name) => page.screenshot({ path: path.join(shots, name), fullPage: true });
const step = (what) => console.log(`step: ${what}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  // The operator: a failure is listed with its message, and retried.
  const operator = await browser.newContext({ httpCredentials: { username: "op", password: token } });
  const ops = await operator.newPage();
  step("operator view lists the failure");
  await ops.goto(`${base}/operator`);
  const failure = ops.locator("#failures tbody tr").first();
  await failure.waitFor(deadline);
  assert.ok((await failure.innerText()).includes(failureText), "the citizen's message is shown");
  await shot(ops, "operator-failure.png");
  step("retry");
  await failure.getByRole("button", { name: "Retry" }).click();
  await ops.locator("#notice").waitFor(deadline);
  assert.match(await ops.locator("#notice").innerText(), /is pending again/);

  step("pause claims");
  await ops.getByRole("button", { name: "Pause claims" }).click();
  assert.match(await ops.locator("#notice").innerText(), /claims paused/);
  assert.match(await ops.locator("#claims").innerText(), /Claims are paused/);

  // The citizen asks while claims are paused: the question waits in the queue.
  const citizen = await browser.newContext();
  // Every state the page shows, kept across the reload that follows the end.
  await citizen.addInitScript(() => {
    const log = () => JSON.parse(sessionStorage.getItem("seen") || "[]");
    const record = () => {
      const state = document.getElementById("estado");
      const bar = document.getElementById("progresso");
      if (!state) return;
      const seen = log();
      const now = { estado: state.textContent, progresso: bar ? Number(bar.value) : null, live: !!window.__live };
      const last = seen[seen.length - 1];
      if (!last || last.estado !== now.estado || last.progresso !== now.progresso) {
        seen.push(now);
        sessionStorage.setItem("seen", JSON.stringify(seen));
      }
    };
    document.addEventListener("DOMContentLoaded", () => {
      record();
      window.__live = true; // what changes from now on came without a reload
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });
  });
  const page = await citizen.newPage();
  step("ask a question");
  await page.goto(base);
  assert.equal(await page.locator("html").getAttribute("lang"), "pt-BR");
  await page.getByLabel("Sua pergunta").fill("Contratos acima de R$ 1 milhão em janeiro de 2021");
  await page.getByLabel("Fonte de dados").selectOption("contracts");
  await shot(page, "citizen-ask.png");
  await page.getByRole("button", { name: "Investigar" }).click();
  await page.waitForURL(/\/investigacoes\/[0-9a-f-]{36}$/, deadline);
  const investigation = page.url();
  assert.equal(await page.locator("#estado").innerText(), "Na fila");
  step("a pause stops claims");
  await page.waitForTimeout(2500);
  assert.equal(await page.locator("#estado").innerText(), "Na fila");
  await shot(page, "citizen-waiting.png");

  step("resume claims; progress moves live");
  await ops.getByRole("button", { name: "Resume claims" }).click();
  assert.match(await ops.locator("#notice").innerText(), /claims resumed/);
  await page.locator("#resultado").waitFor(deadline);
  const seen = await page.evaluate(() => JSON.parse(sessionStorage.getItem("seen") || "[]"));
  console.log(`seen: ${JSON.stringify(seen)}`);
  assert.equal(seen[0].estado, "Na fila");
  const live = seen.filter((s) => s.live && s.estado !== "Na fila");
  assert.ok(live.length >= 1, "the page changed from the queue without a reload");
  assert.ok(live.some((s) => s.progresso > 0) || live.some((s) => s.estado === "Concluída"),
            "progress moved");

  step("read the results and a chart");
  const findings = page.locator("article.achado");
  assert.ok((await findings.count()) > 0, "findings listed");
  const chart = page.locator("figure.chart svg").first();
  await chart.waitFor(deadline);
  assert.ok((await chart.locator("rect").count()) >= 2, "the chart has bars");
  assert.ok((await chart.locator("title").textContent()).length > 0, "the chart is titled");
  await page.setViewportSize({ width: 1100, height: 1400 });
  await page.locator("#resultado").scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(shots, "citizen-results.png") });
  await page.locator("figure.chart").first().screenshot({ path: path.join(shots, "chart.png") });
  // The price finding of this question places its contract among its peers.
  const amongPeers = page.locator("figure.chart:has(circle)").first();
  await amongPeers.waitFor(deadline);
  await amongPeers.screenshot({ path: path.join(shots, "chart-price.png") });

  step("results read without JavaScript");
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noscript = await plain.newPage();
  await noscript.goto(investigation);
  assert.ok((await noscript.locator("article.achado").count()) > 0);
  assert.ok((await noscript.locator("figure.chart svg").count()) > 0);

  step("the operator view without the token is refused");
  const stranger = await browser.newContext();
  const door = await stranger.request.get(`${base}/operator`);
  assert.equal(door.status(), 401);
  console.log("ok");
} catch (error) {
  // What each open page showed when the step failed, for the test's output.
  for (const context of browser.contexts()) {
    for (const page of context.pages()) {
      const text = await page.locator("body").innerText().catch(() => "");
      console.log(`page ${page.url()}:\n${text.slice(0, 2000)}`);
      await page.screenshot({ path: path.join(shots, "failed-step.png"), fullPage: true }).catch(() => {});
    }
  }
  throw error;
} finally {
  await browser.close();
}
