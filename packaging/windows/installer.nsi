; The Windows installer (NSIS 3): a per-user install, no administrator rights, a Start-menu
; shortcut and an uninstaller registered for "Installed apps".
;
; Built on Linux by packaging/windows/make-installer.sh (Debian's `nsis`), which passes the
; defines below, or on Windows by NSIS 3's makensis with the same defines; packaging/README.md
; says how. CI builds it and installs it under Wine (packaging/windows/check-wine.sh).
;
; Defines (makensis -DNAME=value):
;   VERSION          the version from Cargo.toml, e.g. 0.1.0 (shown in "Installed apps")
;   VERSION_QUAD     the same as four numbers, e.g. 0.1.0.0 (the installer's version resource)
;   EXE              the cw-shared-devices.exe to install
;   OUTFILE          the installer to write
;   ICON             assets/icon.ico
;   COMPRESSOR       optional: lzma (the default, smallest) or zlib (faster to build)
;
; The uninstaller removes the program files, the shortcut and its registry key only. Profiles,
; the sync journal and logs (%APPDATA%\Gradient\cw-shared-devices) and the keys in Credential
; Manager are the user's and stay, so a reinstall or an upgrade finds them again.

Unicode true
; A 64-bit installer for a 64-bit program (and the registry's 64-bit view).
Target amd64-unicode

!macro REQUIRE NAME
  !ifndef ${NAME}
    !error "define ${NAME} (makensis -D${NAME}=...; packaging/windows/make-installer.sh does)"
  !endif
!macroend
!insertmacro REQUIRE VERSION
!insertmacro REQUIRE VERSION_QUAD
!insertmacro REQUIRE EXE
!insertmacro REQUIRE OUTFILE
!insertmacro REQUIRE ICON
!ifndef COMPRESSOR
  !define COMPRESSOR lzma
!endif

!define PRODUCT_NAME "CW Shared Devices"
!define EXE_NAME "cw-shared-devices.exe"
; PUBLISHER PLACEHOLDER, as in Cargo.toml's [package.metadata.packager].
!define PUBLISHER "PLACEHOLDER Publisher Name"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\cw-shared-devices"

SetCompressor /SOLID ${COMPRESSOR}
Name "${PRODUCT_NAME}"
OutFile "${OUTFILE}"
; Technicians rarely have administrator rights: everything below is the user's own.
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\${PRODUCT_NAME}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
ManifestDPIAware true
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION_QUAD}"
VIFileVersion "${VERSION_QUAD}"
VIAddVersionKey "ProductName" "${PRODUCT_NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${PRODUCT_NAME} installer"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "Copyright (c) 2026 cw-shared-devices developers"

!include "MUI2.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE_NAME}"
!define MUI_FINISHPAGE_RUN_TEXT "Open ${PRODUCT_NAME}"
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Install"
  SetShellVarContext current
  SetOutPath "$INSTDIR"
  File "/oname=${EXE_NAME}" "${EXE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  CreateShortCut "$SMPROGRAMS\${PRODUCT_NAME}.lnk" "$INSTDIR\${EXE_NAME}" "" "$INSTDIR\${EXE_NAME}" 0

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${EXE_NAME},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "Uninstall"
  SetShellVarContext current
  Delete "$INSTDIR\${EXE_NAME}"
  Delete "$INSTDIR\uninstall.exe"
  ; Not /r: only the folder this installer filled, and only when nothing else was put in it.
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCT_NAME}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd
