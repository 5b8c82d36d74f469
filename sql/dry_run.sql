-- dry_run => true changes nothing, reports the same counts a real run would,
-- and lists every blocker instead of raising.
\set SHOW_CONTEXT never
CREATE SCHEMA dry;
SET search_path = dry, public;

CREATE TABLE author (id int PRIMARY KEY);
CREATE TABLE book (id int PRIMARY KEY, author_id int REFERENCES author ON DELETE CASCADE);
CREATE TABLE chapter (id int PRIMARY KEY, book_id int REFERENCES book ON DELETE CASCADE);
CREATE TABLE fan (id int PRIMARY KEY, author_id int REFERENCES author ON DELETE SET NULL);
CREATE TABLE award (id int PRIMARY KEY, book_id int REFERENCES book);          -- NO ACTION
CREATE TABLE loan (id int PRIMARY KEY, book_id int);                           -- application-only
SELECT cascade_delete_set_policy('loan', '{book_id}', 'PROTECT', parent => 'book');
INSERT INTO author VALUES (1), (2);
INSERT INTO book SELECT g, 1 + g % 2 FROM generate_series(1, 20) g;
INSERT INTO chapter SELECT g, 1 + g % 20 FROM generate_series(1, 200) g;
INSERT INTO fan VALUES (1, 1), (2, 2), (3, 2);

CREATE VIEW state AS
    SELECT (SELECT count(*) FROM author) AS authors, (SELECT count(*) FROM book) AS books,
           (SELECT count(*) FROM chapter) AS chapters,
           (SELECT count(*) FROM fan WHERE author_id IS NULL) AS fans_without_author;
SELECT * FROM state;

-- Nothing blocks author 2 yet: the preview has the counts of the real run.
SELECT cascade_delete('author', 2, dry_run => true) AS preview \gset
SELECT :'preview'::jsonb;
SELECT * FROM state;
BEGIN;
SELECT cascade_delete('author', 2) - 'blocked' - 'dry_run' = :'preview'::jsonb - 'blocked' - 'dry_run'
    AS same_as_preview;
ROLLBACK;

-- Two blockers on author 1 (books 2, 4, ..., 20 are author 1's, the odd ones
-- author 2's): the preview lists each with its count and up to 10 keys.
INSERT INTO award SELECT g, 2 * g FROM generate_series(1, 10) g;   -- all ten of author 1's books
INSERT INTO award VALUES (12, 2), (13, 2);                          -- 12 blocking rows in all
INSERT INTO award VALUES (11, 1);                                   -- author 2's book: no block
INSERT INTO loan VALUES (1, 4), (2, 6), (3, 7);
SELECT jsonb_pretty(cascade_delete('author', 1, dry_run => true) -> 'blocked');
-- the real call raises on the first blocker
SELECT cascade_delete('author', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM state;

-- Calls in one transaction share the session's key tables: a later call must
-- not see the keys an earlier one collected (here a dry run of author 1,
-- then a real call on author 2, which leaves author 1's books alone).
DELETE FROM award; DELETE FROM loan;
BEGIN;
SELECT cascade_delete('author', 1, dry_run => true) -> 'deleted' AS preview_1;
SELECT cascade_delete('author', 2) -> 'deleted' AS deleted_2;
SELECT * FROM state;
SELECT cascade_delete('author', 1) -> 'deleted' AS deleted_1;
SELECT * FROM state;
ROLLBACK;
-- and across transactions
SELECT cascade_delete('author', 1, dry_run => true) -> 'total' AS preview_1;
SELECT cascade_delete('author', 2) -> 'total' AS deleted_2;
SELECT * FROM state;

-- A dry run of over 1,000 keys of one table (1,500 hub rows, more than
-- memory mode holds: an ephemeral relation): the rows referencing them
-- counted (spoke; wide, whose key is bigint against hub's int; tag's SET
-- NULL) as the call then deletes or updates them.
CREATE TABLE root (id int PRIMARY KEY);
CREATE TABLE hub (id int PRIMARY KEY, root_id int NOT NULL REFERENCES root ON DELETE CASCADE);
CREATE TABLE spoke (id int PRIMARY KEY, hub_id int REFERENCES hub ON DELETE CASCADE);
CREATE TABLE wide (id int PRIMARY KEY, hub_id bigint REFERENCES hub ON DELETE CASCADE);
CREATE TABLE tag (id int PRIMARY KEY, hub_id int REFERENCES hub ON DELETE SET NULL);
INSERT INTO root VALUES (1), (2);
INSERT INTO hub SELECT g, CASE WHEN g <= 1500 THEN 1 ELSE 2 END FROM generate_series(1, 1600) g;
INSERT INTO spoke SELECT g, CASE WHEN g % 7 <> 0 THEN 1 + g % 1600 END FROM generate_series(1, 3200) g;
INSERT INTO wide SELECT g, 1 + g % 1600 FROM generate_series(1, 1600) g;
INSERT INTO tag SELECT g, 1 + (2 * g) % 1600 FROM generate_series(1, 800) g;
SELECT cascade_delete('root', 1, dry_run => true) AS dry_run;
SELECT cascade_delete('root', 1) AS call;
SELECT (SELECT count(*) FROM spoke) AS spoke_left, (SELECT count(*) FROM wide) AS wide_left,
       (SELECT count(*) FROM tag WHERE hub_id IS NULL) AS tags_set_null;

SET client_min_messages = warning;
DROP SCHEMA dry CASCADE;
