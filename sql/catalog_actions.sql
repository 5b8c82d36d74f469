-- Without policies every foreign key acts as PostgreSQL would: CASCADE,
-- SET NULL, SET DEFAULT (with PostgreSQL 15's column lists), and NO ACTION /
-- RESTRICT blocking only when a referencing row would survive the cascade.
\set SHOW_CONTEXT never
CREATE SCHEMA cat;
SET search_path = cat, public;

CREATE TABLE tenant (id int PRIMARY KEY);
CREATE TABLE users (tenant_id int REFERENCES tenant ON DELETE CASCADE, id int,
                    PRIMARY KEY (tenant_id, id));
-- SET NULL (author_id): only author_id is cleared, tenant_id stays.
CREATE TABLE post (id int PRIMARY KEY, tenant_id int NOT NULL, author_id int,
                   FOREIGN KEY (tenant_id, author_id) REFERENCES users ON DELETE SET NULL (author_id));
CREATE TABLE setting (id int PRIMARY KEY, tenant_id int DEFAULT 0 REFERENCES tenant ON DELETE SET DEFAULT);
CREATE TABLE note (id int PRIMARY KEY, tenant_id int REFERENCES tenant ON DELETE SET NULL);

INSERT INTO tenant VALUES (0), (1), (2);
INSERT INTO users VALUES (1, 1), (1, 2), (2, 1);
INSERT INTO post VALUES (100, 1, 1), (101, 1, 2), (102, 2, 1);
INSERT INTO setting VALUES (200, 1), (201, 2);
INSERT INTO note VALUES (300, 1), (301, 2);

-- One user by composite key: only post 100 loses its author.
SELECT cascade_delete('users', ARRAY[1, 1]);
SELECT * FROM post ORDER BY id;

-- Tenant 1: users cascade, posts of user (1,2) get author NULL, setting 200
-- falls back to the default tenant 0, note 300 gets NULL.
SELECT cascade_delete('tenant', 1);
SELECT * FROM users ORDER BY tenant_id, id;
SELECT * FROM post ORDER BY id;
SELECT * FROM setting ORDER BY id;
SELECT * FROM note ORDER BY id;

-- NO ACTION and RESTRICT: a folder's links cascade with it; a link from another
-- folder to one of its documents would survive and blocks the delete.
CREATE TABLE folder (id int PRIMARY KEY);
CREATE TABLE doc (id int PRIMARY KEY, folder_id int REFERENCES folder ON DELETE CASCADE);
CREATE TABLE link (id int PRIMARY KEY, folder_id int REFERENCES folder ON DELETE CASCADE,
                   doc_id int REFERENCES doc);
CREATE TABLE pin (id int PRIMARY KEY, doc_id int REFERENCES doc ON DELETE RESTRICT);
INSERT INTO folder VALUES (1), (2);
INSERT INTO doc VALUES (10, 1), (11, 1), (20, 2);
-- link 1 lives in folder 1 and points into folder 1: deleted with it, no block.
INSERT INTO link VALUES (1, 1, 10), (2, 2, 11);
SELECT cascade_delete('folder', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
DELETE FROM link WHERE id = 2;
INSERT INTO pin VALUES (5, 11);
SELECT cascade_delete('folder', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM doc) AS docs, (SELECT count(*) FROM link) AS links;
DELETE FROM pin;
SELECT cascade_delete('folder', 1);
SELECT * FROM doc ORDER BY id;
SELECT * FROM link ORDER BY id;

SET client_min_messages = warning;
DROP SCHEMA cat CASCADE;
