#!/bin/sh
# Wrap nopflow.app in a compressed, drag-to-install .dmg (macOS only; run by build.py).
#   sh packaging/macos/make_dmg.sh path/to/nopflow.app out/nopflow-X.dmg X
# Optional signing/notarisation (skipped when unset):
#   NOPFLOW_CODESIGN_IDENTITY="Developer ID Application: ..."  (also used by nopflow.spec)
#   NOPFLOW_NOTARY_PROFILE=<keychain profile made with `xcrun notarytool store-credentials`>
set -eu
APP="$1"; DMG="$2"; VERSION="$3"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT

if [ -n "${NOPFLOW_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --deep --options runtime --timestamp -s "$NOPFLOW_CODESIGN_IDENTITY" "$APP"
else
  # Ad-hoc signature: required to launch on Apple silicon; Gatekeeper will still ask.
  codesign --force --deep -s - "$APP"
fi

ditto "$APP" "$STAGE/nopflow.app"
ln -s /Applications "$STAGE/Applications"
rm -f "$DMG"
hdiutil create -volname "nopflow $VERSION" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

if [ -n "${NOPFLOW_CODESIGN_IDENTITY:-}" ] && [ -n "${NOPFLOW_NOTARY_PROFILE:-}" ]; then
  codesign -s "$NOPFLOW_CODESIGN_IDENTITY" --timestamp "$DMG"
  xcrun notarytool submit "$DMG" --keychain-profile "$NOPFLOW_NOTARY_PROFILE" --wait
  xcrun stapler staple "$DMG"
fi
echo "$DMG"
