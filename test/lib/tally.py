"""The result lines of a script suite: `ok   what` / `FAIL what` per check, and last
`<name>: N passed, M failed`, which test/in_cluster.sh reads."""
import sys


class Tally:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print('ok   ' + what)
        else:
            self.failed += 1
            print('FAIL ' + what)
        return ok

    def finish(self):
        """Prints the summary line and exits: non-zero after a failure."""
        print('%s: %d passed, %d failed' % (self.name, self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
