-- The demo's schema: the seed's a <- b (with ~4 KB of jsonb) <- c, as Django
-- leaves it (NO ACTION keys, on_delete as policies), and one table for each
-- other kind of edge. `make demo` loads data into it; `make graph` draws it.
CREATE EXTENSION cascade_delete;
CREATE TABLE a (id int PRIMARY KEY, name text);
CREATE TABLE b (id bigint PRIMARY KEY, a_id int NOT NULL REFERENCES a DEFERRABLE INITIALLY DEFERRED,
                data jsonb NOT NULL);
CREATE TABLE c (id bigint PRIMARY KEY, b_id bigint NOT NULL REFERENCES b DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX ON b (a_id);
CREATE INDEX ON c (b_id);
-- Django's on_delete=CASCADE, as policies (its foreign keys are NO ACTION in the database)
SELECT cascade_delete_set_policy('b', '{a_id}', 'CASCADE');
SELECT cascade_delete_set_policy('c', '{b_id}', 'CASCADE');
-- PROTECT: an invoiced a row cannot go
CREATE TABLE invoice (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a DEFERRABLE INITIALLY DEFERRED);
SELECT cascade_delete_set_policy('invoice', '{a_id}', 'PROTECT');
-- SET_NULL on a key that exists only in the application
CREATE TABLE tag (id int PRIMARY KEY, b_id bigint);
SELECT cascade_delete_set_policy('tag', '{b_id}', 'SET_NULL', parent => 'b');
-- DO_NOTHING: an audit trail that keeps its references
CREATE TABLE audit (id int PRIMARY KEY, a_id int);
SELECT cascade_delete_set_policy('audit', '{a_id}', 'DO_NOTHING', parent => 'a');
