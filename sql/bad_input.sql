-- Bad input: each gets a clear error with its SQLSTATE, and nothing changes.
\set SHOW_CONTEXT never
CREATE SCHEMA bad;
SET search_path = bad, public;
CREATE TABLE p (id int PRIMARY KEY, note text NOT NULL DEFAULT '');
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE,
                q_id int NOT NULL DEFAULT 0, code text);
CREATE TABLE nopk (a int, b int);
CREATE TABLE pair (a int, b int, PRIMARY KEY (a, b));
CREATE VIEW v AS SELECT * FROM p;
INSERT INTO p VALUES (1), (2);
INSERT INTO c VALUES (10, 1, 0, 'x');

-- the deletes
SELECT cascade_delete('no_such_table', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('p', 'abc');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('p', '2020-01-01'::date);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('p', NULL::int);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete(NULL, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('p', 1, NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('nopk', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('v', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('pair', 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete('pair', ARRAY[1, 2, 3]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_many('p', '{}'::int[]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_many('p', ARRAY[1, NULL]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_many('pair', ARRAY[1, 2]);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_where('p', 'id = ');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_where('p', 'no_such_column = 1');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- a condition cannot close its parenthesis and add clauses or statements
SELECT cascade_delete_where('p', 'false) UNION SELECT 2 WHERE (true');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_where('p', 'false); DELETE FROM bad.p; SELECT (1');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- the policies
SELECT cascade_delete_set_policy('c', '{p_id}', 'EXPLODE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{nope}', 'CASCADE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{}', 'CASCADE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{p_id,p_id}', 'CASCADE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{q_id}', 'SET_NULL', parent => 'p');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{p_id}', 'SET', 'not a number');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{p_id}', 'SET');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{p_id}', 'CASCADE', '5');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{q_id}', 'CASCADE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{q_id}', 'CASCADE', parent => 'nopk');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{q_id}', 'CASCADE', parent => 'p', parent_columns => '{note}');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{code}', 'CASCADE', parent => 'p');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{q_id,code}', 'CASCADE', parent => 'p');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('c', '{p_id}', 'CASCADE', parent => 'pair');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy('v', '{id}', 'CASCADE', parent => 'p');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT cascade_delete_set_policy(NULL, '{id}', 'CASCADE');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS policies FROM cascade_delete_policy;

-- nothing changed
SELECT (SELECT count(*) FROM p) AS p_rows, (SELECT count(*) FROM c) AS c_rows;

SET client_min_messages = warning;
DROP SCHEMA bad CASCADE;
