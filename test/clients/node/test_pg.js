'use strict';
// cascade_delete through node-postgres (`pg` from npm): $1, $2 parameters sent
// untyped (node-postgres sends every parameter as text with type 0, so the server
// infers regclass for the table and picks the text overload for the key). A JS
// array is sent as an array literal: cascade_delete_many needs $2::text[] (an
// untyped literal cannot resolve anyarray). Run by ../run.sh (CLIENTS_DB names the
// database; PGHOST, PGPORT, PGUSER, PGPASSWORD come from the environment).
const assert = require('node:assert/strict');
const path = require('node:path');
const fs = require('node:fs');
const { Client } = require('pg');

const CASES = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cases.json'), 'utf8'));
const DB = process.env.CLIENTS_DB;
if (!DB) {
  console.error('CLIENTS_DB is not set: run test/clients/run.sh');
  process.exit(2);
}

let passed = 0;
let failed = 0;
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

const dry = (report) => ({ ...report, dry_run: true, blocked: [] });

function normalize(snap) {
  const out = {};
  for (const t of Object.keys(snap).sort()) out[t] = [...snap[t]].sort();
  return out;
}

function expectedAfter(before, c) {
  const after = {};
  for (const [t, rows] of Object.entries(before)) after[t] = [...rows];
  for (const [t, rows] of Object.entries(c.gone || {})) {
    for (const row of rows) {
      const i = after[t].indexOf(row);
      if (i < 0) throw new Error(`cases.json: ${t} has no row ${row} before the call`);
      after[t].splice(i, 1);
    }
  }
  for (const [t, pairs] of Object.entries(c.changed || {})) {
    for (const [oldRow, newRow] of pairs) {
      const i = after[t].indexOf(oldRow);
      if (i < 0) throw new Error(`cases.json: ${t} has no row ${oldRow} before the call`);
      after[t][i] = newRow;
    }
  }
  return normalize(after);
}

const checkContents = (actual, expected) =>
  assert.deepStrictEqual(normalize(actual), normalize(expected), 'table contents');

let client;

async function reset() {
  await client.query('SELECT app.reset()');
}

async function snapshot(c = client) {
  return (await c.query('SELECT app.snapshot() AS s')).rows[0].s;
}

async function call(sql, params, c = client) {
  const { rows } = await c.query(sql, params);
  assert.equal(rows.length, 1);
  const report = Object.values(rows[0])[0];
  assert.equal(typeof report, 'object', 'the jsonb report is parsed into an object');
  return report;
}

function keyVariants(kind, key) {
  switch (kind) {
    case 'int': return [['number', key], ['string', String(key)]];
    case 'bigint': {
      const v = [['string', key], ['BigInt', BigInt(key)]];
      if (Number.isSafeInteger(Number(key))) v.push(['number', Number(key)]);
      return v;
    }
    case 'uuid': return [['string', key]];
    case 'text': return [['string', key]];
    case 'composite': return [['array of strings', key]];
    default: throw new Error(kind);
  }
}

function keysVariants(kind, keys) {
  switch (kind) {
    case 'composite': return [['array of arrays of strings', keys]];
    case 'int': return [['array of numbers', keys], ['array of strings', keys.map(String)]];
    case 'uuid': return [['array of strings', keys]];
    default: throw new Error(kind);
  }
}

async function dryThenDelete(c, sql, value) {
  await reset();
  const before = await snapshot();
  // dry_run as an untyped parameter too: 'true' is read as boolean
  assert.deepStrictEqual(await call(sql.replace('%', ', $3'), [c.table, value, true]), dry(c.report), 'dry-run report');
  checkContents(await snapshot(), before);
  assert.deepStrictEqual(await call(sql.replace('%', ''), [c.table, value]), c.report, 'report');
  checkContents(await snapshot(), expectedAfter(before, c));
}

for (const c of CASES.deletes) {
  for (const [label, value] of keyVariants(c.kind, c.key)) {
    test(`cascade_delete, ${c.name} as ${label}`, () => dryThenDelete(c, 'SELECT cascade_delete($1, $2%)', value));
  }
}
for (const c of CASES.many) {
  for (const [label, value] of keysVariants(c.kind, c.keys)) {
    test(`${c.name} as ${label}`, () => dryThenDelete(c, 'SELECT cascade_delete_many($1, $2::text[]%)', value));
  }
}

const USABLE = CASES.deletes[0]; // a = 42

async function stillUsable() {
  assert.deepStrictEqual(await call('SELECT cascade_delete($1, $2, dry_run => true)', [USABLE.table, USABLE.key]),
    dry(USABLE.report), 'dry-run report after the error');
}

async function expectError(promise, c) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `no error; expected SQLSTATE ${c.sqlstate}`);
  assert.equal(err.code, c.sqlstate, `SQLSTATE (message: ${err.message})`);
  assert.ok(err.message.includes(c.message), `message ${JSON.stringify(err.message)} contains ${JSON.stringify(c.message)}`);
  if (c.detail) assert.equal(err.detail, c.detail, 'DETAIL');
  return err;
}

for (const c of CASES.errors) {
  test(`error: ${c.name} -> ${c.sqlstate}, rollback, connection usable`, async () => {
    await reset();
    const before = await snapshot();
    const [sql, value] = c.keys ? ['SELECT cascade_delete_many($1, $2::text[])', c.keys]
      : ['SELECT cascade_delete($1, $2)', c.key];
    await client.query('BEGIN');
    await expectError(client.query(sql, [c.table, value]), c);
    await client.query('ROLLBACK');
    checkContents(await snapshot(), before);
    await stillUsable();
  });
}

test('error outside a transaction: the next query needs no rollback', async () => {
  await reset();
  const before = await snapshot();
  await expectError(client.query('SELECT cascade_delete($1, $2)', ['app.a', 13]), CASES.errors[0]);
  checkContents(await snapshot(), before);
  assert.deepStrictEqual(await call('SELECT cascade_delete($1, $2)', ['app.a', 42]), USABLE.report, 'report');
  checkContents(await snapshot(), expectedAfter(before, USABLE));
});

test('dry run of a PROTECTed row reports the blocker instead of raising', async () => {
  await reset();
  const before = await snapshot();
  const c = CASES.protect_dry_run;
  assert.deepStrictEqual(await call('SELECT cascade_delete($1, $2, $3)', [c.table, c.key, true]), c.report);
  checkContents(await snapshot(), before);
});

test('transaction rolled back: nothing deleted', async () => {
  await reset();
  const before = await snapshot();
  await client.query('BEGIN');
  assert.deepStrictEqual(await call('SELECT cascade_delete($1, $2)', ['app.a', 42]), USABLE.report, 'report');
  checkContents(await snapshot(), expectedAfter(before, USABLE));
  await client.query('ROLLBACK');
  checkContents(await snapshot(), before);
});

test('23503 inside a transaction after other changes: ROLLBACK undoes everything', async () => {
  await reset();
  const before = await snapshot();
  await client.query('BEGIN');
  await client.query('UPDATE app.a SET name = $1 WHERE id = $2', ['renamed', 99]);
  assert.equal((await call('SELECT cascade_delete($1, $2)', ['app.a', 7])).total, 3);
  await expectError(client.query('SELECT cascade_delete($1, $2)', ['app.a', 13]), CASES.errors[0]);
  // the transaction is aborted until the rollback
  await expectError(client.query('SELECT 1'), { sqlstate: '25P02', message: 'current transaction is aborted' });
  await client.query('ROLLBACK');
  checkContents(await snapshot(), before);
  await stillUsable();
});

test('named prepared statement, executed across tables past the generic-plan threshold', async () => {
  await reset();
  const before = await snapshot();
  const cases = [...CASES.deletes.filter((c) => c.report.total > 0)];
  // each case twice as a dry run, then the real calls, all through one prepared statement
  for (const c of [...cases, ...cases]) {
    const { rows } = await client.query({ name: 'cd', text: 'SELECT cascade_delete($1, $2, $3) AS r', values: [c.table, c.key, true] });
    assert.deepStrictEqual(rows[0].r, dry(c.report), `dry-run report of ${c.name}`);
  }
  checkContents(await snapshot(), before);
  let expected = before;
  for (const c of cases) {
    const { rows } = await client.query({ name: 'cd', text: 'SELECT cascade_delete($1, $2, $3) AS r', values: [c.table, c.key, false] });
    assert.deepStrictEqual(rows[0].r, c.report, `report of ${c.name}`);
    expected = expectedAfter(expected, c);
  }
  checkContents(await snapshot(), expected);
});

test('DISCARD ALL (what connection poolers run between clients), then a call', async () => {
  await reset();
  await client.query('SELECT cascade_delete($1, $2, true)', ['app.a', 42]);
  await client.query('DISCARD ALL');
  await stillUsable();
});

// cascade_delete_where takes an SQL condition, not a value: a bound parameter
// there is SQL text. Never build the condition by concatenating user input.
// Safe patterns: let the server quote the value,
//   SELECT cascade_delete_where($1, format('code = %L', $2::text))
//   SELECT cascade_delete_where($1, 'code = ' || quote_literal($2::text))
// or, for keys, pass them as an array: SELECT cascade_delete_many($1, $2::text[]).
const EVIL = CASES.deletes.find((c) => c.key === "O'Brien; DROP TABLE app.t --");

test("cascade_delete_where with format('%L') quoting a hostile value", async () => {
  await reset();
  const before = await snapshot();
  assert.deepStrictEqual(await call("SELECT cascade_delete_where($1, format('code = %L', $2::text))",
    ['app.t', EVIL.key]), EVIL.report);
  checkContents(await snapshot(), expectedAfter(before, EVIL));
});

test('cascade_delete_where: concatenation is SQL injection, quote_literal() is not', async () => {
  await reset();
  const before = await snapshot();
  const value = "x' OR 'a' = 'a";
  const unsafe = await call('SELECT cascade_delete_where($1, $2, true)', ['app.t', `code = '${value}'`]); // NOT this
  assert.deepStrictEqual(unsafe.deleted, { 'app.t': before['app.t'].length, 'app.t_child': before['app.t_child'].length },
    "unsafe condition's dry-run counts: every row");
  const safe = await call("SELECT cascade_delete_where($1, 'code = ' || quote_literal($2::text), true)",
    ['app.t', value]);
  assert.deepStrictEqual(safe, dry({ total: 0, deleted: {}, updated: {} }), "quoted condition's dry-run report");
  checkContents(await snapshot(), before);
});

async function main() {
  client = new Client({ database: DB });
  await client.connect();
  for (const [name, fn] of tests) {
    try {
      await fn();
      passed++;
      console.log(`ok - ${name}`);
    } catch (e) {
      failed++;
      console.log(`not ok - ${name}: ${e.name}`);
      for (const line of String(e.stack || e).split('\n')) console.log(`    ${line}`);
      // leave no transaction open for the next test
      await client.query('ROLLBACK').catch(() => {});
    }
  }
  await client.end();
}

main()
  .catch((e) => {
    failed++;
    console.log(`not ok - node-postgres: ${e.stack || e}`);
  })
  .finally(() => {
    console.log(`node-postgres: ${passed} passed, ${failed} failed`);
    process.exitCode = failed || !passed ? 1 : 0;
  });
