/* Kernel launches for the CUDA emulation (see emu.h). */
#include "emu.h"
#include <thread>
thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
pthread_barrier_t emu_bar;
void emu_launch(std::function<void()> fn, dim3 grid, dim3 block, bool barrier) {
    blockDim = block; gridDim = grid;
    for (unsigned by = 0; by < grid.y; by++)
        for (unsigned bx = 0; bx < grid.x; bx++) {
            if (!barrier) {
                blockIdx = dim3(bx, by);
                for (unsigned t = 0; t < block.x; t++) { threadIdx = dim3(t); fn(); }
                continue;
            }
            pthread_barrier_init(&emu_bar, NULL, block.x);
            std::vector<std::thread> th;
            for (unsigned t = 0; t < block.x; t++)
                th.emplace_back([=] { blockIdx = dim3(bx, by); threadIdx = dim3(t); fn(); });
            for (auto &x : th) x.join();
            pthread_barrier_destroy(&emu_bar);
        }
}
