#!/bin/sh
# nopflow is installed in /opt/nopflow; the bundle's executable finds its files from its
# own location, so it is exec'd by absolute path.
exec /opt/nopflow/nopflow "$@"
