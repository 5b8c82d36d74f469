-- Self-referencing tables: a chain of depth 10,000, and a tree whose
-- self-reference is an immediate NO ACTION key cascaded by policy.
\set SHOW_CONTEXT never
CREATE SCHEMA deep;
SET search_path = deep, public;

CREATE TABLE node (id int PRIMARY KEY, parent_id int REFERENCES node ON DELETE CASCADE);
CREATE INDEX ON node (parent_id);
INSERT INTO node SELECT g, NULLIF(g - 1, 0) FROM generate_series(1, 10000) g;
INSERT INTO node VALUES (20000, NULL), (20001, 20000);
SELECT cascade_delete('node', 1);
SELECT count(*), min(id), max(id) FROM node;

-- Category tree (fan-out 3, depth 7) with a NO ACTION self-reference: deleting
-- the rows level by level would fail its end-of-statement check.
CREATE TABLE category (id int PRIMARY KEY, parent_id int REFERENCES category);
CREATE INDEX ON category (parent_id);
SELECT cascade_delete_set_policy('category', '{parent_id}', 'CASCADE');
WITH RECURSIVE t(id, parent_id, depth) AS (
    SELECT 1, NULL::int, 1
    UNION ALL
    SELECT t.id * 3 + k - 1, t.id, t.depth + 1 FROM t, generate_series(0, 2) k WHERE t.depth < 7)
INSERT INTO category SELECT id, parent_id FROM t;
SELECT count(*) FROM category;
-- the subtree under 2 (depth 2) has 1 + 3 + 9 + 27 + 81 + 243 = 364 rows
SELECT cascade_delete('category', 2);
SELECT count(*) FROM category;

SET client_min_messages = warning;
DROP SCHEMA deep CASCADE;
