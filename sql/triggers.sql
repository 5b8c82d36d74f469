-- User triggers on the tables a cascade touches fire as for ordinary DELETE
-- and UPDATE statements; row triggers see the full OLD rows.
\set SHOW_CONTEXT never
CREATE SCHEMA trg;
SET search_path = trg, public;
CREATE TABLE log (n serial, tbl text, op text, level text, old_row jsonb, new_row jsonb);
CREATE FUNCTION log_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO trg.log (tbl, op, level, old_row, new_row)
    VALUES (TG_TABLE_NAME, TG_OP, TG_LEVEL,
            CASE WHEN TG_LEVEL = 'ROW' THEN to_jsonb(OLD) END,
            CASE WHEN TG_LEVEL = 'ROW' AND TG_OP = 'UPDATE' THEN to_jsonb(NEW) END);
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TABLE blog (id int PRIMARY KEY, title text);
CREATE TABLE post (id int PRIMARY KEY, blog_id int REFERENCES blog ON DELETE CASCADE, body text);
CREATE TABLE comment (id int PRIMARY KEY, post_id int REFERENCES post ON DELETE CASCADE, body text);
CREATE TABLE subscriber (id int PRIMARY KEY, blog_id int REFERENCES blog ON DELETE SET NULL, email text);
CREATE TRIGGER post_del BEFORE DELETE ON post FOR EACH ROW EXECUTE FUNCTION log_row();
CREATE TRIGGER comment_del AFTER DELETE ON comment FOR EACH ROW EXECUTE FUNCTION log_row();
CREATE TRIGGER comment_stmt AFTER DELETE ON comment FOR EACH STATEMENT EXECUTE FUNCTION log_row();
CREATE TRIGGER subscriber_upd BEFORE UPDATE ON subscriber FOR EACH ROW EXECUTE FUNCTION log_row();
CREATE TRIGGER blog_del AFTER DELETE ON blog FOR EACH ROW EXECUTE FUNCTION log_row();

INSERT INTO blog VALUES (1, 'first'), (2, 'second');
INSERT INTO post VALUES (10, 1, 'hello'), (11, 1, 'again'), (20, 2, 'other');
INSERT INTO comment VALUES (100, 10, 'nice'), (101, 11, 'meh'), (200, 20, 'kept');
INSERT INTO subscriber VALUES (1, 1, 'a@example.com'), (2, 2, 'b@example.com');

SELECT cascade_delete('blog', 1);
-- Every deleted or updated row appears once with all its columns, and
-- comment's statement trigger once: with cascade_delete.fast_path on (the
-- default) PostgreSQL's own ON DELETE CASCADE trigger on post is left out of
-- cascade_delete's statements, since the comments are already gone.
SELECT tbl, op, level, old_row, new_row FROM log
ORDER BY tbl, level, old_row ->> 'id';

-- With the fast path off, that trigger runs its query on comment (and finds
-- nothing left to delete), so comment's statement trigger fires a second time.
TRUNCATE log;
SET cascade_delete.fast_path = off;
SELECT cascade_delete('blog', 2);
SELECT tbl, op, level, old_row, new_row FROM log
ORDER BY tbl, level, old_row ->> 'id';
RESET cascade_delete.fast_path;

-- A trigger of the cascade that changes a row the cascade deletes later (here
-- comment's delete touches its post): the row is deleted all the same (deletes
-- take the collected version of a row only when another transaction changed
-- it). A BEFORE trigger returning NULL keeps its row, as with DELETE.
CREATE FUNCTION touch_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE post SET body = body || ' (touched)' WHERE id = OLD.post_id; RETURN OLD; END $$;
CREATE TRIGGER comment_touch BEFORE DELETE ON comment FOR EACH ROW EXECUTE FUNCTION touch_post();
CREATE TABLE note (id int PRIMARY KEY, post_id int REFERENCES post ON DELETE CASCADE, keep boolean);
CREATE FUNCTION keep_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF OLD.keep THEN RETURN NULL; END IF; RETURN OLD; END $$;
CREATE TRIGGER note_keep BEFORE DELETE ON note FOR EACH ROW EXECUTE FUNCTION keep_note();
INSERT INTO blog VALUES (3, 'third');
INSERT INTO post VALUES (30, 3, 'p30'), (31, 3, 'p31');
INSERT INTO comment VALUES (300, 30, 'c300'), (301, 31, 'c301');
INSERT INTO note VALUES (1, 30, false);
SELECT cascade_delete('blog', 3) -> 'deleted';
SELECT count(*) AS posts_left FROM post WHERE blog_id = 3;
INSERT INTO blog VALUES (4, 'fourth');
INSERT INTO post VALUES (40, 4, 'p40');
INSERT INTO note VALUES (2, 40, true);
-- the kept note still references post 40: the delete is refused as a whole
SELECT cascade_delete('blog', 4);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM post WHERE id = 40) AS post_40, (SELECT count(*) FROM note) AS notes;

SET client_min_messages = warning;
DROP SCHEMA trg CASCADE;
