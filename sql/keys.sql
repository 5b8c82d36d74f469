-- Key types and forms: integer, bigint, text, uuid, untyped literals, composite
-- keys as arrays, composite foreign keys, foreign keys to unique columns.
\set SHOW_CONTEXT never
CREATE SCHEMA keys;
SET search_path = keys, public;

CREATE TABLE k_int (id int PRIMARY KEY);
CREATE TABLE k_big (id bigint PRIMARY KEY);
CREATE TABLE k_text (id text PRIMARY KEY);
CREATE TABLE k_uuid (id uuid PRIMARY KEY);
CREATE TABLE k_child (id serial PRIMARY KEY,
                      i int REFERENCES k_int ON DELETE CASCADE,
                      b bigint REFERENCES k_big ON DELETE CASCADE,
                      t text REFERENCES k_text ON DELETE CASCADE,
                      u uuid REFERENCES k_uuid ON DELETE CASCADE);
INSERT INTO k_int VALUES (1), (2);
INSERT INTO k_big VALUES (5000000000), (2);
INSERT INTO k_text VALUES ('a b'), ('O''Reilly');
INSERT INTO k_uuid VALUES ('6f1c1b8e-5a43-4c8e-9d3a-1c2b3a4d5e6f'), ('00000000-0000-0000-0000-000000000002');
INSERT INTO k_child (i, b, t, u) VALUES (1, NULL, NULL, NULL), (NULL, 5000000000, NULL, NULL),
    (NULL, NULL, 'O''Reilly', NULL), (NULL, NULL, NULL, '6f1c1b8e-5a43-4c8e-9d3a-1c2b3a4d5e6f');

SELECT cascade_delete('k_int', 1);                      -- integer
SELECT cascade_delete('k_big', 5000000000);             -- bigint
SELECT cascade_delete('k_text', 'O''Reilly'::text);     -- text
SELECT cascade_delete('k_uuid', '6f1c1b8e-5a43-4c8e-9d3a-1c2b3a4d5e6f'::uuid);  -- uuid
SELECT count(*) AS children_left FROM k_child;
-- Untyped literals, as drivers send them, are cast to the key's type.
SELECT cascade_delete('k_int', '2');
SELECT cascade_delete('k_uuid', '00000000-0000-0000-0000-000000000002');
-- An integer for a bigint key, a key of another type that reads the same.
SELECT cascade_delete('k_big', 2::int);
-- A prepared statement with an untyped parameter (as JDBC or psycopg2 send it).
PREPARE del(regclass, unknown) AS SELECT cascade_delete($1, $2);
SELECT cascade_delete('k_text', 'a b');
EXECUTE del('k_int', '99');
SELECT (SELECT count(*) FROM k_int) AS ints, (SELECT count(*) FROM k_big) AS bigs,
       (SELECT count(*) FROM k_text) AS texts, (SELECT count(*) FROM k_uuid) AS uuids;

-- Composite primary key, composite foreign key, foreign key to a unique column.
CREATE TABLE account (region text, num int, code text UNIQUE NOT NULL, PRIMARY KEY (region, num));
CREATE TABLE entry (id int PRIMARY KEY, region text, num int,
                    FOREIGN KEY (region, num) REFERENCES account ON DELETE CASCADE);
CREATE TABLE tag (id int PRIMARY KEY, account_code text REFERENCES account (code) ON DELETE CASCADE);
CREATE TABLE tag_note (id int PRIMARY KEY, tag_id int REFERENCES tag ON DELETE CASCADE);
INSERT INTO account VALUES ('eu', 1, 'EU-1'), ('eu', 2, 'EU-2'), ('us', 1, 'US-1');
INSERT INTO entry VALUES (1, 'eu', 1), (2, 'eu', 2), (3, 'us', 1), (4, 'eu', 1);
INSERT INTO tag VALUES (10, 'EU-1'), (11, 'US-1');
INSERT INTO tag_note VALUES (100, 10), (101, 11);
-- one composite key: an array of its columns, typed or as text
SELECT cascade_delete('account', ARRAY['eu', '1']);
SELECT cascade_delete('account', '{us,1}');
SELECT * FROM account;
SELECT * FROM entry ORDER BY id;
SELECT * FROM tag ORDER BY id;
SELECT * FROM tag_note ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA keys CASCADE;
