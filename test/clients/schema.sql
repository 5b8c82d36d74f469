-- Fixture shared by the client tests (psycopg2, SQLAlchemy, node-postgres).
-- run.sh loads it into a template database; each client gets a copy.
-- One family of tables per primary key type. app.reset() puts the rows back
-- (every test starts with it); app.snapshot() returns every table's rows as
-- text, so that a client can compare the whole database before and after.
CREATE EXTENSION cascade_delete;
CREATE SCHEMA app;

-- integer keys: a <- b <- c (ON DELETE CASCADE), fan (ON DELETE SET NULL),
-- guard (Django's deferred NO ACTION key, given PROTECT by a policy)
CREATE TABLE app.a (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES app.a ON DELETE CASCADE);
CREATE TABLE app.c (id int PRIMARY KEY, b_id int NOT NULL REFERENCES app.b ON DELETE CASCADE);
CREATE TABLE app.fan (id int PRIMARY KEY, a_id int REFERENCES app.a ON DELETE SET NULL);
CREATE TABLE app.guard (id int PRIMARY KEY, a_id int NOT NULL
    REFERENCES app.a DEFERRABLE INITIALLY DEFERRED);
SELECT cascade_delete_set_policy('app.guard', '{a_id}', 'PROTECT');

-- bigint keys
CREATE TABLE app.big (id bigint PRIMARY KEY);
CREATE TABLE app.big_child (id int PRIMARY KEY, big_id bigint NOT NULL REFERENCES app.big ON DELETE CASCADE);

-- uuid keys
CREATE TABLE app.u (id uuid PRIMARY KEY);
CREATE TABLE app.u_child (id int PRIMARY KEY, u_id uuid NOT NULL REFERENCES app.u ON DELETE CASCADE);

-- text keys
CREATE TABLE app.t (code text PRIMARY KEY);
CREATE TABLE app.t_child (id int PRIMARY KEY, t_code text NOT NULL REFERENCES app.t ON DELETE CASCADE);

-- composite keys (text, int) and a composite foreign key
CREATE TABLE app.acct (region text, num int, PRIMARY KEY (region, num));
CREATE TABLE app.entry (id int PRIMARY KEY, region text NOT NULL, num int NOT NULL,
    FOREIGN KEY (region, num) REFERENCES app.acct ON DELETE CASCADE);

-- names that need quoting
CREATE TABLE app."Order" (id int PRIMARY KEY);
CREATE TABLE app."Order Line" (id int PRIMARY KEY, "order" int NOT NULL REFERENCES app."Order" ON DELETE CASCADE);

CREATE FUNCTION app.reset() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE app.a, app.b, app.c, app.fan, app.guard, app.big, app.big_child,
             app.u, app.u_child, app.t, app.t_child, app.acct, app.entry, app."Order", app."Order Line";
    -- a 42: 1 a, 3 b, 6 c deleted, 2 fan set to NULL (total 10)
    -- a 7:  1 a, 1 b, 1 c (total 3)
    -- a 13: protected by guard 1
    -- a 99: a bystander
    INSERT INTO app.a VALUES (42, 'forty-two'), (7, 'seven'), (13, 'thirteen'), (99, 'bystander');
    INSERT INTO app.b VALUES (1, 42), (2, 42), (3, 42), (4, 7), (5, 99), (6, 13);
    INSERT INTO app.c VALUES (1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (6, 3), (7, 4), (8, 5), (9, 6);
    INSERT INTO app.fan VALUES (1, 42), (2, 42), (3, 99);
    INSERT INTO app.guard VALUES (1, 13);
    -- beyond 2^31, and beyond 2^53 (a JavaScript number cannot hold 9007199254740993)
    INSERT INTO app.big VALUES (5000000000), (5000000001), (9007199254740993);
    INSERT INTO app.big_child VALUES (1, 5000000000), (2, 5000000000), (3, 5000000001), (4, 9007199254740993);
    INSERT INTO app.u VALUES ('6f1c1f4e-2d7b-4b8e-9a51-3c0e7d2b9a10'), ('0b7e9f2c-8d41-4f6a-b3e5-91a2c4d6e8f0');
    INSERT INTO app.u_child VALUES (1, '6f1c1f4e-2d7b-4b8e-9a51-3c0e7d2b9a10'),
        (2, '6f1c1f4e-2d7b-4b8e-9a51-3c0e7d2b9a10'), (3, '0b7e9f2c-8d41-4f6a-b3e5-91a2c4d6e8f0');
    -- text keys that need quoting, look like an array literal, or like a number
    INSERT INTO app.t VALUES ('O''Brien; DROP TABLE app.t --'), ('{x,y}'), ('plain'), ('42'), ('Zoë ☃ 日本');
    INSERT INTO app.t_child VALUES (1, 'O''Brien; DROP TABLE app.t --'), (2, '{x,y}'), (3, 'plain'),
        (4, 'plain'), (5, '42'), (6, 'Zoë ☃ 日本');
    INSERT INTO app.acct VALUES ('eu', 1), ('eu', 2), ('us', 1), ('us', 2);
    INSERT INTO app.entry VALUES (1, 'eu', 1), (2, 'eu', 1), (3, 'eu', 2), (4, 'us', 1), (5, 'us', 2);
    INSERT INTO app."Order" VALUES (1), (2);
    INSERT INTO app."Order Line" VALUES (1, 1), (2, 1), (3, 2);
END $$;

-- {"app.a": ["(13,thirteen)", ...], ...}: every table of schema app, rows as
-- their text form, sorted bytewise.
CREATE FUNCTION app.snapshot() RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    rel regclass;
    result jsonb := '{}';
    rows jsonb;
BEGIN
    FOR rel IN SELECT c.oid FROM pg_class c
               WHERE c.relnamespace = 'app'::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('SELECT coalesce(jsonb_agg(r::text ORDER BY r::text COLLATE "C"), ''[]'') FROM %s r', rel)
            INTO rows;
        result := result || jsonb_build_object(rel::text, rows);
    END LOOP;
    RETURN result;
END $$;

SELECT app.reset();
