#!/usr/bin/python3
"""manage.py of the test project: the database is $ZOO_DB; ZOO_SYNC_ON_MIGRATE=1 sets
CASCADE_DELETE_SYNC_ON_MIGRATE."""
import os
import sys

import zoo_settings

if __name__ == '__main__':
    zoo_settings.configure(os.environ['ZOO_DB'],
                          CASCADE_DELETE_SYNC_ON_MIGRATE=os.environ.get('ZOO_SYNC_ON_MIGRATE') == '1')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
