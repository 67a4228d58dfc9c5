// The README's "Try it" calls with the generated client, against TIMEPOINT_URL (http://localhost:5080 by default).
// Every path, body and answer is typed by the served document (src/schema.d.ts); nothing here is written by hand.
// Prints one JSON line of what each call answered; exits non-zero on the first refusal.
import { createTimepointClient, creditsOf, type Problem } from "./index.js";

const baseUrl = process.env.TIMEPOINT_URL ?? "http://localhost:5080";

/** The answer's typed body, or an error naming the call and the problem's code. */
function ok<T>(what: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (!answer.response.ok || answer.data === undefined) {
    const problem = answer.error as Problem | undefined;
    throw new Error(`${what}: ${answer.response.status} ${problem?.code ?? ""} ${problem?.detail ?? ""}`);
  }
  return answer.data;
}

// Sign in as a demo user and keep the access token.
const anonymous = createTimepointClient(baseUrl);
const tokens = ok("demo sign-in", await anonymous.POST("/api/v1/auth/demo"));
const user = createTimepointClient(baseUrl, { accessToken: tokens.access_token });

// 50 credits to start; a generation is charged 5 (X-Credits-Charged).
const balance = ok("balance", await user.GET("/api/v1/credits/balance"));
const generation = await user.POST("/api/v1/timepoints/generate/sync", { body: { query: "Moon landing, July 20 1969" } });
const timepoint = ok("generate", generation);
const charge = creditsOf(generation.response);
const stats = ok("clockchain stats", await anonymous.GET("/api/v1/clockchain/stats"));

// An API key for programmatic access (the secret is shown once), then the history with the key.
const key = ok("create API key", await user.POST("/api/v1/auth/api-keys", {
  body: { name: "laptop", scopes: ["read", "write", "generate"] },
}));
const withKey = createTimepointClient(baseUrl, { apiKey: key.key });
const history = ok("history with the key", await withKey.GET("/api/v1/credits/history"));

console.log(JSON.stringify({
  balance: balance.balance,
  timepoint: timepoint.slug,
  charged: charge?.charged,
  balance_after: charge?.balanceAfter,
  clockchain_nodes: stats.total_nodes,
  key_prefix: key.prefix,
  history_types: history.map((t) => t.type),
}));
