/*
 * inc_ptx.h — a kernel as PTX text, for the programs that need one without
 * the nvcc-built images (it_images.h): inc(p, n) adds 1 to each of the n
 * 32-bit words at p, one thread a word.
 */
#ifndef RGPU_IT_INC_PTX_H
#define RGPU_IT_INC_PTX_H

static const char inc_ptx[] = ".version 7.0\n.target sm_75\n.address_size 64\n\n"
                              ".visible .entry inc(.param .u64 p, .param .u32 n)\n{\n"
                              "\t.reg .pred %p<2>;\n\t.reg .b32 %r<7>;\n\t.reg .b64 %rd<5>;\n"
                              "\tld.param.u64 %rd1, [p];\n\tld.param.u32 %r1, [n];\n"
                              "\tmov.u32 %r2, %ctaid.x;\n\tmov.u32 %r3, %ntid.x;\n\tmov.u32 %r4, %tid.x;\n"
                              "\tmad.lo.s32 %r5, %r2, %r3, %r4;\n\tsetp.ge.u32 %p1, %r5, %r1;\n"
                              "\t@%p1 bra DONE;\n\tcvta.to.global.u64 %rd2, %rd1;\n"
                              "\tmul.wide.u32 %rd3, %r5, 4;\n\tadd.s64 %rd4, %rd2, %rd3;\n"
                              "\tld.global.u32 %r6, [%rd4];\n\tadd.s32 %r6, %r6, 1;\n"
                              "\tst.global.u32 [%rd4], %r6;\nDONE:\n\tret;\n}\n";

#endif
