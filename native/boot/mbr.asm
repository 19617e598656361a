; Lifeboat MBR boot code (bytes 0-439 of LBA 0). Build: node native/boot/build.ts
;
; The BIOS loads LBA 0 to 0000:7C00 and jumps there with DL = its drive number. This code:
;   1. copies itself to 0000:0600, so the partition's boot sector can be loaded to 7C00;
;   2. scans the four entries of the table in its copy: 00 = inactive, 80 = active, anything
;      else, or more than one 80, is an invalid table; none active is its own error;
;   3. reads the active entry's first sector to 0000:7C00: INT 13h AH=42h (LBA, the entry's
;      u32 start) when AH=41h reports the extensions, otherwise AH=02h with the entry's CHS
;      start bytes; three tries, with a disk reset (AH=00h) after each failure;
;   4. checks 55 AA at 0000:7DFE;
;   5. jumps to 0000:7C00 with DL = the BIOS drive number it was given and DS:SI = the active
;      entry (in the copy at 0000:07BE + 16 * index), as the syslinux and Windows MBRs do.
; On failure it prints "Lifeboat MBR: <reason>" with INT 10h teletype and on COM1 (0x3F8,
; initialised here: 115200 8N1) and halts; it never reboots or returns to the BIOS silently.
;
; Only bytes 0-439 are ours: the disk signature, the two reserved bytes, the four entries and
; 55 AA (440-511) stay the disk's. The %if at the end fails the build past 440 bytes.
; Contract and sources: /work/shared/reference/boot-and-bcd.md section 1.6; docs/boot-code.md.

bits 16
cpu 386
org 0x0600

ORIGIN      equ 0x7C00      ; where the BIOS loads us and where the boot sector goes
RELOC       equ 0x0600      ; where we run from
TABLE       equ RELOC + 446 ; the four 16-byte entries in the copy
SIG         equ 0x7C00 + 510
COM1        equ 0x3F8
TRIES       equ 3

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, ORIGIN          ; stack grows down from 7C00, below both copies
        mov ds, ax
        mov es, ax
        sti
        cld
        mov si, ORIGIN
        mov di, RELOC
        mov cx, 256
        rep movsw
        jmp 0:relocated         ; far jump: CS = 0 whatever the BIOS used (07C0:0000 exists)

relocated:
        mov [drive], dl

; --- find exactly one active entry ------------------------------------------------------
        mov si, TABLE
        xor bx, bx              ; bx = the active entry found so far (0 = none)
        mov cx, 4
.scan:
        mov al, [si]
        test al, al
        jz .next                ; 00: inactive
        cmp al, 0x80
        jne bad_table           ; neither 00 nor 80
        test bx, bx
        jnz bad_table           ; a second active entry
        mov bx, si
.next:
        add si, 16
        loop .scan
        test bx, bx
        jz no_active
        mov si, bx              ; SI = the entry from here to the jump

; --- read its first sector to 0000:7C00 -------------------------------------------------
; One loop for both methods: BP holds AX for the call, 0201h (AH=02h CHS read of one sector,
; from CX/DH/ES:BX) or 4201h (AH=42h, from the packet at DS:SI; AL is not used). Each call
; gets both the CHS registers and SI = the packet, and only reads what its AH asks for.
        mov eax, [si + 8]       ; the entry's start LBA (u32) into the packet's low dword
        mov [dap.lba], eax
        mov bp, 0x0201
        mov ah, 0x41            ; extensions present? (BX = 55AA -> AA55, CX bit 0 = packet calls)
        mov bx, 0x55AA
        mov dl, [drive]
        int 0x13
        jc .read
        cmp bx, 0xAA55
        jne .read
        test cl, 1
        jz .read
        mov bp, 0x4201
.read:
        mov di, TRIES
.try:
        mov ax, bp
        mov bx, ORIGIN          ; ES:BX = 0000:7C00
        mov dh, [si + 1]        ; head
        mov cx, [si + 2]        ; CL = sector | cylinder bits 8-9 << 6, CH = cylinder bits 0-7
        mov dl, [drive]
        push si
        mov si, dap
        int 0x13
        pop si
        jnc loaded
        xor ax, ax              ; reset the disk, then try again
        mov dl, [drive]
        int 0x13
        dec di
        jnz .try
        mov di, msg_read
        jmp fail

loaded:
        cmp word [SIG], 0xAA55
        jne no_signature
        mov dl, [drive]
        jmp 0:ORIGIN            ; DL = drive, DS:SI = the entry, DS = ES = SS = 0

; --- failure: say why on screen, then on COM1, then halt --------------------------------
no_active:
        mov di, msg_none
        jmp fail
bad_table:
        mov di, msg_table
        jmp fail
no_signature:
        mov di, msg_sig
fail:                           ; DI = the reason
        mov bp, tty
        call say
        mov si, com1_init       ; (port offset, value) pairs, ended by offset 0xFF
.init:
        lodsw
        cmp al, 0xFF
        je .inited
        mov dx, COM1
        add dl, al              ; 0x3F8 + offset (no carry: offsets are 0-4)
        mov al, ah
        out dx, al
        jmp .init
.inited:
        mov bp, serial
        call say
.halt:
        cli
        hlt
        jmp .halt

; "Lifeboat MBR: " + the string at DI + CR LF, one character at a time through BP.
; Whole lines, one device after the other: a BIOS that mirrors INT 10h to the serial port
; (SeaBIOS sercon) then shows the line twice rather than every character twice.
say:
        mov si, msg_prefix
        call .puts
        mov si, di
        call .puts
        mov si, msg_crlf
.puts:
        lodsb
        test al, al
        jz .done
        call bp
        jmp .puts
.done:
        ret

tty:                            ; AL on screen
        mov ah, 0x0E
        mov bx, 0x0007          ; page 0, light grey
        int 0x10
        ret

serial:                         ; AL on COM1
        mov ah, al
        mov dx, COM1 + 5        ; line status register
        mov cx, 0xFFFF          ; bounded wait: a missing or stuck UART must not hang us
.wait:
        in al, dx
        test al, 0x20           ; transmit holding register empty
        jnz .send
        loop .wait
.send:
        mov al, ah
        mov dx, COM1
        out dx, al
        ret

; COM1: no interrupts, DLAB on, divisor 1 (115200), 8N1 with DLAB off, FIFOs on, DTR|RTS|OUT2.
com1_init:
        db 1, 0x00,  3, 0x80,  0, 0x01,  1, 0x00,  3, 0x03,  2, 0xC7,  4, 0x0B,  0xFF, 0

msg_prefix: db "Lifeboat MBR: ", 0
msg_none:   db "no active partition", 0
msg_table:  db "invalid partition table", 0
msg_read:   db "error reading the boot sector", 0
msg_sig:    db "boot sector missing (no 55AA)", 0
msg_crlf:   db 13, 10, 0

; INT 13h AH=42h disk address packet: size, 0, one sector, to 0000:7C00, LBA (u64).
align 4
dap:
        db 16, 0
        dw 1
        dw ORIGIN, 0
.lba:   dd 0, 0

drive:  db 0x80

%if $ - $$ > 440
%error "MBR code is longer than 440 bytes"
%endif
