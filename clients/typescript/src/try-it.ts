// The README's "Try it" calls with the generated client, against TIMEPOINT_URL (http://localhost:5080 by default).
// Prints one JSON line of what each call answered; exits non-zero on the first refusal.
import { createTimepointClient, creditsOf, type Problem } from "./index.js";

const baseUrl = process.env.TIMEPOINT_URL ?? "http://localhost:5080";

// The served document does not describe these bodies yet (issue 21: typed request and response schemas); until it
// does, the shapes come from docs/contract.md and the bodies pass through untyped.
interface TokenPair { access_token: string; refresh_token: string; token_type: string; expires_in: number }
interface Balance { balance: number; lifetime_earned: number; lifetime_spent: number }
interface Transaction { id: number; amount: number; balance_after: number; type: string; created_at: string }
interface Timepoint { id: string; query: string; slug: string; status: string; year: number | null }
interface CreatedKey { id: string; key: string; prefix: string; scopes: string[] }
interface Stats { total_nodes: number }
const untyped = <T>(data: unknown) => data as T;
const withBody = (body: unknown) => ({ body }) as unknown as { body?: never };

function ok<T>(what: string, answer: { data?: unknown; error?: unknown; response: Response }): T {
  if (!answer.response.ok) {
    const problem = answer.error as Problem | undefined;
    throw new Error(`${what}: ${answer.response.status} ${problem?.code ?? ""} ${problem?.detail ?? ""}`);
  }
  return untyped<T>(answer.data);
}

// Sign in as a demo user and keep the access token.
const anonymous = createTimepointClient(baseUrl);
const tokens = ok<TokenPair>("demo sign-in", await anonymous.POST("/api/v1/auth/demo"));
const user = createTimepointClient(baseUrl, { accessToken: tokens.access_token });

// 50 credits to start; a generation is charged 5 (X-Credits-Charged).
const balance = ok<Balance>("balance", await user.GET("/api/v1/credits/balance"));
const generation = await user.POST("/api/v1/timepoints/generate/sync", withBody({ query: "Moon landing, July 20 1969" }));
const timepoint = ok<Timepoint>("generate", generation);
const charge = creditsOf(generation.response);
const stats = ok<Stats>("clockchain stats", await anonymous.GET("/api/v1/clockchain/{rest}", { params: { path: { rest: "stats" } } }));

// An API key for programmatic access (the secret is shown once), then the history with the key.
const key = ok<CreatedKey>("create API key", await user.POST("/api/v1/auth/api-keys/{rest}", {
  params: { path: { rest: "" } },
  ...withBody({ name: "laptop", scopes: ["read", "write", "generate"] }),
}));
const withKey = createTimepointClient(baseUrl, { apiKey: key.key });
const history = ok<Transaction[]>("history with the key", await withKey.GET("/api/v1/credits/history"));

console.log(JSON.stringify({
  balance: balance.balance,
  timepoint: timepoint.slug,
  charged: charge?.charged,
  balance_after: charge?.balanceAfter,
  clockchain_nodes: stats.total_nodes,
  key_prefix: key.prefix,
  history_types: history.map((t) => t.type),
}));
