; Inno Setup 6 script for nopflow (Windows x64). Compiled by packaging/build.py --target windows:
;   iscc /DAppVersion=X /DSourceDir=packaging\out\dist\nopflow /DOutputDir=packaging\out
;        /DIconFile=packaging\out\icons\nopflow.ico packaging\windows\nopflow.iss
; Installs per user by default (no admin prompt; "Install for all users" is offered), adds a
; Start-menu entry, registers the workflow file type, and ships an uninstaller that removes
; only what it installed: workflows and run history (%LOCALAPPDATA%\nopflow) stay.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\out\dist\nopflow"
#endif
#ifndef OutputDir
  #define OutputDir "..\out"
#endif
#ifndef IconFile
  #define IconFile "..\out\icons\nopflow.ico"
#endif
#define AppName "nopflow"
#define ProgId "nopflow.workflow"
#define GuiExe "nopflow-gui.exe"

[Setup]
; AppId identifies the app for upgrades and the uninstaller: never change it.
AppId={{7C5E2B0A-4F1D-4C8E-9B6A-2D3F1E0A9C41}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=nopflow developers
AppPublisherURL=https://github.com/nopflow/nopflow
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
ChangesAssociations=yes
OutputDir={#OutputDir}
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#GuiExe}
UninstallDisplayName={#AppName} {#AppVersion}
; lzma2 on ~150 MB takes about a minute on a CI runner; good ratio, fine for releases.
Compression=lzma2
SolidCompression=yes
WizardStyle=modern
LicenseFile=..\..\LICENSE

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#GuiExe}"; Comment: "Build and run automation workflows"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#GuiExe}"; Tasks: desktopicon

[Registry]
; The workflow file type. Windows associates files by their LAST extension only, so
; "*.nopflow.json" cannot get its own default program without claiming every .json file.
; We register the ProgID and offer nopflow in ".json -> Open with" (never the default for
; all JSON); the editor's File > Open and drag-and-drop handle the rest.
Root: HKA; Subkey: "Software\Classes\{#ProgId}"; ValueType: string; ValueName: ""; ValueData: "nopflow workflow"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\{#ProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#GuiExe},0"
Root: HKA; Subkey: "Software\Classes\{#ProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#GuiExe}"" ""%1"""
Root: HKA; Subkey: "Software\Classes\.json\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Applications\{#GuiExe}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#GuiExe}\SupportedTypes"; ValueType: string; ValueName: ".json"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#GuiExe}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#GuiExe}"" ""%1"""
; "nopflow" from Win+R / the Start search; for a terminal use "{app}\nopflow.exe run FILE".
Root: HKA; Subkey: "Software\Microsoft\Windows\CurrentVersion\App Paths\nopflow.exe"; ValueType: string; ValueName: ""; ValueData: "{app}\nopflow.exe"; Flags: uninsdeletekey

[Run]
Filename: "{app}\{#GuiExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
