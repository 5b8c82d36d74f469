-- Where deleting children first (cascade_delete) and parents first (PostgreSQL's
-- own ON DELETE actions) differ in what user triggers see: README, Semantics.
\set SHOW_CONTEXT never
CREATE SCHEMA tor;
SET search_path = tor, public;

-- A trigger on a child writes a row under the same parent into a sibling table.
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c1 (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE);
CREATE TABLE c2 (id serial PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE, note text);
CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO c2 (p_id, note) VALUES (OLD.p_id, 'c1 gone');
    RETURN OLD;
END $$;
CREATE TRIGGER note AFTER DELETE ON c1 FOR EACH ROW EXECUTE FUNCTION note();
INSERT INTO p VALUES (1), (2);
INSERT INTO c1 VALUES (1, 1), (2, 2);
-- native: the parent is gone when the child's trigger runs
DELETE FROM p WHERE id = 1;
-- children first: the parent is still there; c2's rows go after c1's, the written one with them
SELECT cascade_delete('p', 2);
SELECT count(*) AS left_in_c2 FROM c2;

-- A trigger recomputes the parent's count of children; the parent's own
-- trigger logs the value it is deleted with.
CREATE TABLE q (id int PRIMARY KEY, n int);
CREATE TABLE qc (id int PRIMARY KEY, q_id int REFERENCES q ON DELETE CASCADE);
CREATE TABLE log (how text, q_id int, n int);
CREATE FUNCTION recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE q SET n = (SELECT count(*) FROM qc WHERE q_id = OLD.q_id) WHERE id = OLD.q_id;
    RETURN OLD;
END $$;
CREATE TRIGGER recount AFTER DELETE ON qc FOR EACH ROW EXECUTE FUNCTION recount();
CREATE FUNCTION logq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO log VALUES (current_setting('tor.how'), OLD.id, OLD.n);
    RETURN OLD;
END $$;
CREATE TRIGGER logq AFTER DELETE ON q FOR EACH ROW EXECUTE FUNCTION logq();
INSERT INTO q VALUES (1, 3), (2, 3);
INSERT INTO qc VALUES (1, 1), (2, 1), (3, 1), (4, 2), (5, 2), (6, 2);
SET tor.how = 'native';
DELETE FROM q WHERE id = 1;
SET tor.how = 'cascade_delete';
SELECT cascade_delete('q', 2);
SELECT * FROM log ORDER BY q_id;

SET client_min_messages = warning;
DROP SCHEMA tor CASCADE;
