"""A throwaway PostgreSQL cluster for suites that need one of their own (a standby, a
backend killed with kill -9): data in base/name, its Unix socket in base, a free port;
commands run as postgres when we are root (PostgreSQL refuses to run as root)."""
import os
import pwd
import socket
import subprocess
import tempfile
import time

import psycopg2

BINDIR = os.environ.get('PG_BINDIR', '/usr/lib/postgresql/15/bin')


def own_dir(prefix):
    """A temporary directory the clusters' owner can write to."""
    base = tempfile.mkdtemp(prefix=prefix)
    if os.geteuid() == 0:
        pw = pwd.getpwnam('postgres')
        os.chown(base, pw.pw_uid, pw.pw_gid)
    return base


def free_port():
    with socket.socket() as sk:
        sk.bind(('127.0.0.1', 0))
        return sk.getsockname()[1]


class Cluster:
    def __init__(self, base, name):
        self.root = os.geteuid() == 0
        self.user = 'postgres' if self.root else pwd.getpwuid(os.geteuid()).pw_name
        self.dir = base
        self.data = os.path.join(base, name)
        self.log = os.path.join(base, name + '.log')
        self.port = free_port()

    def run(self, *args):
        cmd = list(args)
        if self.root:
            cmd = ['runuser', '-u', 'postgres', '--'] + cmd
        return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=self.dir)

    def initdb(self):
        self.run(BINDIR + '/initdb', '-D', self.data, '-A', 'trust', '-U', self.user, '--no-sync')

    def start(self, *settings):
        """pg_ctl start; settings: more "-c name=value" options."""
        options = "-p %d -k %s -c listen_addresses=''" % (self.port, self.dir)
        self.run(BINDIR + '/pg_ctl', '-D', self.data, '-l', self.log, '-w', '-o',
                 ' '.join([options] + ['-c ' + s for s in settings]), 'start')

    def stop(self):
        try:
            self.run(BINDIR + '/pg_ctl', '-D', self.data, '-m', 'immediate', '-w', 'stop')
        except subprocess.CalledProcessError:
            pass

    def connect(self, db='postgres'):
        c = psycopg2.connect(host=self.dir, port=self.port, user=self.user, dbname=db)
        c.autocommit = True
        return c

    def execute(self, sql, db='postgres'):
        c = self.connect(db)
        try:
            c.cursor().execute(sql)
        finally:
            c.close()

    def wait_ready(self, db, timeout=90):
        """A connection once the server accepts one again (after crash recovery), and how long it took."""
        t = time.time()
        while True:
            try:
                conn = self.connect(db)
                conn.cursor().execute('SELECT 1')
                return conn, time.time() - t
            except psycopg2.Error:
                if time.time() - t > timeout:
                    raise
                time.sleep(0.1)

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ''
