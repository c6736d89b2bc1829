# Stand-ins for the Vitis HLS Tcl commands, so that build_prj.tcl runs under plain tclsh.
# Every call is recorded, one per line, in the file named by $::env(IKR_STUB_LOG); a stub
# fails the way Vitis would on a missing file, a top function no source defines, a command
# used before the project or solution that it needs is open, or a co-simulation or export
# without RTL: csynth_design leaves <project>/<solution>/syn/verilog/ as Vitis does, -reset
# removes the project's (or the solution's) directory, and cosim_design and export_design
# need that RTL, from this run or an earlier one.
# Usage: tclsh vitis_stubs.tcl PROJECT_DIR/build_prj.tcl [step=0|1 ...]
set ::stub_log [open $::env(IKR_STUB_LOG) w]
set ::stub_project ""
set ::stub_solution ""
set ::stub_top ""
set ::stub_sources {}

proc stub_record {args} {
    puts $::stub_log [join $args " "]
    flush $::stub_log
}

proc stub_need {what} {
    if {$what eq "project" && $::stub_project eq ""} { error "no project is open" }
    if {$what eq "solution" && $::stub_solution eq ""} { error "no solution is open" }
}

proc open_project {args} {
    stub_record open_project {*}$args
    set ::stub_project [lindex $args end]
    if {[lsearch -exact $args -reset] >= 0} { file delete -force $::stub_project }
    file mkdir $::stub_project
}

proc set_top {name} {
    stub_need project
    stub_record set_top $name
    set ::stub_top $name
}

proc add_files {args} {
    stub_need project
    stub_record add_files {*}$args
    set tb 0
    set files {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        set a [lindex $args $i]
        switch -- $a {
            -tb { set tb 1 }
            -cflags - -csimflags { incr i }
            default {
                if {[string match -* $a]} { error "add_files: unknown option $a" }
                lappend files $a
            }
        }
    }
    foreach f $files {
        if {![file exists $f]} { error "add_files: $f does not exist (in [pwd])" }
        if {!$tb} { lappend ::stub_sources $f }
    }
}

proc open_solution {args} {
    stub_need project
    stub_record open_solution {*}$args
    set ::stub_solution [lindex [lsearch -all -inline -not -glob $args -*] 0]
    if {[lsearch -exact $args -reset] >= 0} { file delete -force [file join $::stub_project $::stub_solution] }
}

foreach cmd {set_part create_clock set_clock_uncertainty} {
    proc $cmd {args} "stub_need solution; stub_record $cmd {*}\$args"
}

# Synthesis-like steps check that some design source defines the top function.
proc stub_check_top {} {
    stub_need solution
    if {$::stub_top eq ""} { error "no top function set" }
    foreach f $::stub_sources {
        set fh [open $f]
        set text [read $fh]
        close $fh
        if {[regexp "void\\s+$::stub_top\\s*\\(" $text]} { return }
    }
    error "top function '$::stub_top' is not defined in $::stub_sources"
}

proc stub_rtl {} { return [file join $::stub_project $::stub_solution syn verilog] }

proc csim_design {args} { stub_check_top; stub_record csim_design {*}$args }

proc csynth_design {args} {
    stub_check_top
    stub_record csynth_design {*}$args
    file mkdir [stub_rtl]
}

proc stub_need_rtl {cmd} {
    stub_check_top
    if {![file isdirectory [stub_rtl]]} { error "$cmd: no RTL in [stub_rtl] (run csynth_design first)" }
}

proc cosim_design {args} { stub_need_rtl cosim_design; stub_record cosim_design {*}$args }

proc export_design {args} { stub_need_rtl export_design; stub_record export_design {*}$args }

proc close_project {} {
    stub_need project
    stub_record close_project
    set ::stub_project ""
    set ::stub_solution ""
}

rename exit stub_real_exit
proc exit {{code 0}} {
    stub_record exit $code
    close $::stub_log
    stub_real_exit $code
}

set script [lindex $::argv 0]
set ::argv [lrange $::argv 1 end]
set ::argc [llength $::argv]
source $script
