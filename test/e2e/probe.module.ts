import { Body, Controller, Get, Module, Post, Query } from '@nestjs/common';
import { IsInt, IsString, Max, Min } from 'class-validator';

import { Public } from 'src/platform/auth/public.decorator';
import { DomainError } from 'src/platform/errors/domain-error';

class EchoDto {
  @IsString()
  name: string;

  @IsInt()
  @Min(1)
  @Max(10)
  count: number;
}

class ProbeConflict extends DomainError {
  readonly code = 'PROBE_CONFLICT';
  readonly status = 409;
}

/** Routes that exist only in the e2e tests, to exercise the platform (validation, errors, shutdown). */
@Controller('probe')
class ProbeController {
  @Post('echo')
  @Public()
  echo(@Body() body: EchoDto): EchoDto {
    return body;
  }

  @Get('domain-error')
  @Public()
  domainError(): never {
    throw new ProbeConflict('The probe is in a state that forbids this.', { hint: 'none' });
  }

  @Get('crash')
  @Public()
  crash(): never {
    throw new Error('secret internal detail: connection string postgres://user:pw@db');
  }

  @Get('slow')
  @Public()
  async slow(@Query('ms') ms = '500'): Promise<{ slept: number }> {
    await new Promise((resolve) => setTimeout(resolve, Number(ms)));
    return { slept: Number(ms) };
  }

  /** Declares neither @Public nor a permission: the guard must refuse it. */
  @Get('undeclared')
  undeclared(): { reached: true } {
    return { reached: true };
  }
}

@Module({ controllers: [ProbeController] })
export class ProbeModule {}
